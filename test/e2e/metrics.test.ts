import type { TestServer } from '../helpers/embedded-server';
import {
  DEV_TOKEN,
  eventually,
  startTestServer,
  stopTestServer,
  useSdkSuite,
} from '../helpers/embedded-server';
import type { Exposition } from '../helpers/prometheus-text';
import { parsePrometheusText } from '../helpers/prometheus-text';
import { publishRaw } from '../helpers/raw-api';

const HELD_QUEUE = 'held';
// Never due while the test runs (midnight on January 1st), so no tick publishes meanwhile.
const RARE_CRON = '0 0 1 1 *';
const HANG_MS = 60_000;

async function scrape(url: string, token: string | null = DEV_TOKEN): Promise<Response> {
  return fetch(`${url}/metrics`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

async function metrics(url: string): Promise<Exposition> {
  const response = await scrape(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

describe('GET /metrics: Prometheus text that follows the traffic', () => {
  const suite = useSdkSuite();

  it('needs the token', async () => {
    const missing = await scrape(suite.server.url, null);
    const wrong = await scrape(suite.server.url, 'not-the-token');

    expect([missing.status, wrong.status]).toEqual([401, 401]);
    expect(await wrong.json()).toEqual({ error: 'invalid token' });
  });

  it('counts publishes, deliveries, retries, failures and callbacks, and gauges what is left', async () => {
    const { server, client } = suite;
    const before = await metrics(server.url);
    expect(before.types.get('sqstash_messages_published_total')).toBe('counter');
    expect(before.types.get('sqstash_publish_duration_seconds')).toBe('histogram');
    expect(before.types.get('sqstash_messages_pending')).toBe('gauge');
    expect(before.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(before.value('sqstash_messages_published_total')).toBe(0);
    expect(before.value('sqstash_messages_delivered_total', { kind: 'callback' })).toBe(0);
    expect(before.value('sqstash_messages_pending')).toBe(0);

    const receiver = await suite.startReceiver((request) => {
      if (request.path.startsWith('/broken')) return { status: 500, body: 'down' };
      if (request.path.startsWith('/hang')) return { status: 200, delayMs: HANG_MS };
      return { status: 200 };
    });
    // 3 delivered, each with a callback.
    for (let i = 0; i < 3; i++) {
      await client.publishJSON({
        url: `${receiver.url}/ok/${i}`,
        body: { i },
        callback: `${receiver.url}/callback`,
      });
    }
    // One message, one duplicate.
    for (let i = 0; i < 2; i++) {
      await client.publishJSON({ url: `${receiver.url}/once`, body: {}, deduplicationId: 'd-1' });
    }
    // A URL group of two endpoints: one publish, two messages.
    await client.urlGroups.addEndpoints({
      name: 'pair',
      endpoints: [{ url: `${receiver.url}/a` }, { url: `${receiver.url}/b` }],
    });
    await client.publishJSON({ urlGroup: 'pair', body: {} });
    // Fails twice (one retry), then is dead-lettered and its failure callback delivered.
    await publishRaw(server.url, `${receiver.url}/broken`, {
      headers: {
        'Upstash-Retries': '1',
        'Upstash-Retry-Delay': '0',
        'Upstash-Failure-Callback': `${receiver.url}/failure-callback`,
      },
      body: 'x',
    });
    // Left pending: delayed a day, held by a paused queue, and in flight to a hanging destination.
    await client.publishJSON({ url: `${receiver.url}/later`, body: {}, delay: '1d' });
    const held = client.queue({ queueName: HELD_QUEUE });
    await held.upsert({ paused: true });
    await held.enqueueJSON({ url: `${receiver.url}/held/1`, body: {} });
    await held.enqueueJSON({ url: `${receiver.url}/held/2`, body: {} });
    await client.publishJSON({ url: `${receiver.url}/hang`, body: {} });
    const running = await client.schedules.create({
      destination: `${receiver.url}/s`,
      cron: RARE_CRON,
    });
    const paused = await client.schedules.create({
      destination: `${receiver.url}/s`,
      cron: RARE_CRON,
    });
    await client.schedules.pause({ schedule: paused.scheduleId });

    const after = await eventually(async () => {
      const scraped = await metrics(server.url);
      expect(scraped.value('sqstash_messages_delivered_total', { kind: 'failure-callback' })).toBe(
        1,
      );
      expect(scraped.value('sqstash_messages_delivered_total', { kind: 'callback' })).toBe(3);
      expect(scraped.value('sqstash_messages_delivered_total', { kind: 'message' })).toBe(6);
      expect(scraped.value('sqstash_messages_in_flight')).toBe(1);
      return scraped;
    });

    const counted = (name: string, labels?: Record<string, string>) => after.value(name, labels);
    expect({
      published: counted('sqstash_messages_published_total'),
      deduplicated: counted('sqstash_messages_deduplicated_total'),
      retried: counted('sqstash_messages_retried_total', { kind: 'message' }),
      failed: counted('sqstash_messages_failed_total', { kind: 'message' }),
      callbacksFailed: counted('sqstash_messages_failed_total', { kind: 'callback' }),
      publishes: counted('sqstash_publish_duration_seconds_count'),
      attempts: counted('sqstash_attempt_duration_seconds_count'),
      publishToDelivery: counted('sqstash_publish_to_delivery_seconds_count'),
      pending: counted('sqstash_messages_pending'),
      deadLetters: counted('sqstash_dead_letters'),
      lag: counted('sqstash_queue_lag', { queue: HELD_QUEUE }),
      running: counted('sqstash_schedules', { state: 'running' }),
      paused: counted('sqstash_schedules', { state: 'paused' }),
    }).toEqual({
      // 3 + 1 (the duplicate stores none) + 2 (the group) + 1 + 1 + 2 + 1
      published: 11,
      deduplicated: 1,
      retried: 1,
      failed: 1,
      callbacksFailed: 0,
      // every publish call, the duplicate's included; creating a schedule is not a publish
      publishes: 11,
      // 6 messages and 4 callbacks delivered, 2 attempts of the failing one; the hanging one runs
      attempts: 12,
      publishToDelivery: 6,
      // the delayed, the 2 held and the hanging one
      pending: 4,
      deadLetters: 1,
      lag: 2,
      running: 1,
      paused: 1,
    });
    expect(counted('sqstash_publish_duration_seconds_sum')).toBeGreaterThan(0);
    expect(running.scheduleId).toEqual(expect.any(String));

    // Resuming the queue delivers the held messages: the gauges come down with it.
    await held.resume();
    await eventually(async () => {
      const resumed = await metrics(server.url);
      expect(resumed.value('sqstash_queue_lag', { queue: HELD_QUEUE })).toBe(0);
      expect(resumed.value('sqstash_messages_pending')).toBe(2);
      expect(resumed.value('sqstash_messages_delivered_total', { kind: 'message' })).toBe(8);
    });
  });
});

describe('GET /metrics with flow control', () => {
  const suite = useSdkSuite();

  it('gauges flow-controlled messages: pending while they wait in their key, in flight once started', async () => {
    const { server, client } = suite;
    const key = `metrics-${Date.now()}`;
    // The first attempt to arrive hangs, holding the key's one slot.
    const receiver = await suite.startReceiver((_request, index) =>
      index === 0 ? { status: 200, delayMs: HANG_MS } : { status: 200 },
    );
    for (let n = 0; n < 3; n += 1) {
      await client.publish({
        url: `${receiver.url}/fc/${n}`,
        body: String(n),
        flowControl: { key, parallelism: 1 },
      });
    }
    // The other two wait in the key's waitlist.
    await eventually(async () => {
      const scraped = await metrics(server.url);
      expect(scraped.value('sqstash_messages_pending')).toBe(3);
      expect(scraped.value('sqstash_messages_in_flight')).toBe(1);
      expect(await client.flowControl.get(key)).toMatchObject({
        waitListSize: 2,
        parallelismCount: 1,
      });
    });
    expect((await client.flowControl.getGlobalParallelism()).parallelismCount).toBe(1);

    // A pinned parallelism of 3 lets the two waiting ones start; they are delivered at once.
    await client.flowControl.pin(key, { parallelism: 3 });
    await receiver.waitForRequests(3);
    await eventually(async () => {
      const scraped = await metrics(server.url);
      expect(scraped.value('sqstash_messages_pending')).toBe(1);
      expect(scraped.value('sqstash_messages_in_flight')).toBe(1);
    });
  });
});

describe('GET /metrics across a restart', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await stopTestServer(server);
  });

  it('counts the pending messages a previous run left, and starts the counters over', async () => {
    const first = await startTestServer();
    for (let i = 0; i < 3; i++) {
      await publishRaw(first.url, 'http://127.0.0.1:9/later', {
        headers: { 'Upstash-Delay': '1d' },
        body: 'x',
      });
    }
    await first.stop();

    server = await startTestServer({ SQSTASH_DATA_DIR: first.dataDir });
    const restarted = await metrics(server.url);
    await publishRaw(server.url, 'http://127.0.0.1:9/later', {
      headers: { 'Upstash-Delay': '1d' },
      body: 'x',
    });
    const published = await metrics(server.url);

    expect(restarted.value('sqstash_messages_pending')).toBe(3);
    expect(restarted.value('sqstash_messages_published_total')).toBe(0);
    expect(published.value('sqstash_messages_pending')).toBe(4);
    expect(published.value('sqstash_messages_published_total')).toBe(1);
  });
});
