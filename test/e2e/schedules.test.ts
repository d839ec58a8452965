import { rmSync } from 'node:fs';
import { Client } from '@upstash/qstash';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { movingClock } from '../helpers/messages';
import { TestReceiver } from '../helpers/receiver';
import { expectNoMoreRequests, expectSignedDelivery } from '../helpers/signed-delivery';

const MINUTE_MS = 60_000;
/** How long before a minute boundary the server's clock is set, so an every-minute tick is due. */
const LEAD_MS = 1_000;
/** Far from any test run: the schedules that must not fire during the suite use it. */
const NEW_YEAR = '0 0 1 1 *';

/**
 * The minute boundary at or before real time: a server clock a second before it is behind real
 * time, so the tokens it signs are never issued in the receiver's future.
 */
function previousBoundary(): number {
  return Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
}

async function rawFetch(
  server: TestServer,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${DEV_TOKEN}`, ...init.headers },
    body: init.body,
  });
  return { status: response.status, text: await response.text() };
}

describe('schedules with the official SDK', () => {
  let server: TestServer;
  let client: Client;
  let clock: ReturnType<typeof movingClock>;
  let receiver: TestReceiver;

  beforeAll(async () => {
    clock = movingClock(Date.now());
    server = await startTestServer({}, clock);
    client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
  });
  afterAll(async () => {
    await stopTestServer(server);
  });
  beforeEach(async () => {
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    for (const schedule of await client.schedules.list()) {
      await client.schedules.delete(schedule.scheduleId);
    }
    await receiver.stop();
  });

  it('creates a schedule and gets and lists it with the fields the SDKs parse', async () => {
    const destination = `${receiver.url}/report?tenant=a`;

    const { scheduleId } = await client.schedules.create({
      destination,
      body: JSON.stringify({ hello: 'world' }),
      headers: {
        'test-header': 'test-value',
        'Upstash-Forward-bypass-tunnel-reminder': 'client-test',
      },
      method: 'PUT',
      callback: 'https://example.com/cb',
      failureCallback: 'https://example.com/failure',
      delay: 10,
      retries: 2,
      retryDelay: '1000 * (1 + retried)',
      timeout: 30,
      queueName: 'scheduleQueue',
      label: ['reports', 'nightly'],
      cron: `${NEW_YEAR} `,
    });
    const got = await client.schedules.get(scheduleId);
    const listed = await client.schedules.list();

    expect(scheduleId).toMatch(/^scd_[1-9A-HJ-NP-Za-km-z]{22}$/);
    expect(got).toEqual({
      scheduleId,
      cron: NEW_YEAR,
      destination,
      createdAt: expect.any(Number),
      method: 'PUT',
      header: {
        'Bypass-Tunnel-Reminder': ['client-test'],
        'Content-Type': ['application/json'],
        'Test-Header': ['test-value'],
      },
      body: '{"hello":"world"}',
      retries: 2,
      delay: 10,
      timeout: 30,
      retryDelayExpression: '1000 * (1 + retried)',
      callback: 'https://example.com/cb',
      failureCallback: 'https://example.com/failure',
      callbackHeader: {},
      failureCallbackHeader: {},
      queueName: 'scheduleQueue',
      callerIp: '127.0.0.1',
      callerIP: '127.0.0.1',
      labels: ['reports', 'nightly'],
      label: 'reports',
      isPaused: false,
      nextScheduleTime: expect.any(Number),
    });
    expect(got.createdAt).toBeLessThanOrEqual(clock.now());
    expect(new Date(got.nextScheduleTime!).toISOString()).toMatch(/-01-01T00:00:00\.000Z$/);
    expect(listed).toEqual([got]);
  });

  it('lists [] when there are none, and every schedule otherwise', async () => {
    expect(await client.schedules.list()).toEqual([]);

    const first = await client.schedules.create({
      destination: `${receiver.url}/1`,
      cron: NEW_YEAR,
    });
    const second = await client.schedules.create({
      destination: `${receiver.url}/2`,
      cron: NEW_YEAR,
    });

    expect((await client.schedules.list()).map((s) => s.scheduleId).sort()).toEqual(
      [first.scheduleId, second.scheduleId].sort(),
    );
  });

  it('pauses and resumes with PATCH (as the SDK sends) and POST (as the OpenAPI says)', async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${receiver.url}/p`,
      cron: NEW_YEAR,
    });

    await client.schedules.pause({ schedule: scheduleId });
    await client.schedules.pause({ schedule: scheduleId });
    const paused = await client.schedules.get(scheduleId);
    await client.schedules.resume({ schedule: scheduleId });
    const resumed = await client.schedules.get(scheduleId);
    const postPause = await rawFetch(server, 'POST', `/v2/schedules/${scheduleId}/pause`);
    const postPaused = await client.schedules.get(scheduleId);
    const postResume = await rawFetch(server, 'POST', `/v2/schedules/${scheduleId}/resume`);

    expect(paused.isPaused).toBe(true);
    expect(paused.nextScheduleTime).toBeUndefined();
    expect(resumed.isPaused).toBe(false);
    expect(resumed.nextScheduleTime).toEqual(expect.any(Number));
    expect([postPause.status, postResume.status]).toEqual([200, 200]);
    expect(postPaused.isPaused).toBe(true);
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(false);
    await expect(client.schedules.pause({ schedule: 'scd_missing' })).rejects.toThrow(/not found/);
    await expect(client.schedules.resume({ schedule: 'scd_missing' })).rejects.toThrow(/not found/);
  });

  it('upserts by scheduleId: one schedule, its destination replaced, a body not re-sent gone', async () => {
    const scheduleId = 'nightly-report.v2';
    await client.schedules.create({
      scheduleId,
      destination: `${receiver.url}/initial`,
      cron: '*/5 * * * *',
      body: 'my-payload',
    });
    const before = await client.schedules.list();

    const again = await client.schedules.create({
      scheduleId,
      destination: `${receiver.url}/updated`,
      cron: '*/5 * * * *',
    });
    const after = await client.schedules.list();

    expect(before.map((s) => [s.scheduleId, s.destination, s.body])).toEqual([
      [scheduleId, `${receiver.url}/initial`, 'my-payload'],
    ]);
    expect(again).toEqual({ scheduleId });
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ scheduleId, destination: `${receiver.url}/updated` });
    expect(after[0]!.body).toBeUndefined();
  });

  it('deletes a schedule; getting or deleting it again is a 404', async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${receiver.url}/d`,
      cron: NEW_YEAR,
    });

    await client.schedules.delete(scheduleId);

    await expect(client.schedules.get(scheduleId)).rejects.toThrow(/not found/);
    await expect(client.schedules.delete(scheduleId)).rejects.toThrow(/not found/);
    expect(await client.schedules.list()).toEqual([]);
  });

  it('refuses an invalid cron or schedule id with a 400 that says why', async () => {
    const destination = `${receiver.url}/x`;

    // The SDK throws the error body as it came: `{"error": "..."}`, quotes escaped.
    await expect(client.schedules.create({ destination, cron: '60 * * * *' })).rejects.toThrow(
      'invalid Upstash-Cron \\"60 * * * *\\": minute 60 is out of range 0-59',
    );
    await expect(client.schedules.create({ destination, cron: '* * * * * *' })).rejects.toThrow(
      'a seconds field is not supported',
    );
    await expect(
      client.schedules.create({ destination, cron: NEW_YEAR, scheduleId: 'no spaces' }),
    ).rejects.toThrow('invalid Upstash-Schedule-Id \\"no spaces\\"');
    const missing = await rawFetch(server, 'POST', `/v2/schedules/${destination}`);
    expect(missing.status).toBe(400);
    expect(missing.text).toContain('Upstash-Cron is required');
    expect(await client.schedules.list()).toEqual([]);
  });

  it('creates a schedule from /v2/publish with Upstash-Cron, answering {"scheduleId"}', async () => {
    const headers = {
      'content-type': 'application/json',
      'upstash-cron': NEW_YEAR,
      'upstash-deduplication-id': 'yearly-report',
    };
    const path = `/v2/publish/${receiver.url}/yearly`;

    const created = await rawFetch(server, 'POST', path, { headers, body: '{"year":true}' });
    const duplicate = await rawFetch(server, 'POST', path, { headers, body: '{"year":true}' });

    expect(created.status).toBe(200);
    const { scheduleId } = JSON.parse(created.text) as { scheduleId: string };
    expect(JSON.parse(created.text)).toEqual({ scheduleId: expect.stringMatching(/^scd_/) });
    expect(duplicate.status).toBe(202);
    expect(JSON.parse(duplicate.text)).toEqual({ scheduleId, deduplicated: true });
    expect(await client.schedules.get(scheduleId)).toMatchObject({
      cron: NEW_YEAR,
      destination: `${receiver.url}/yearly`,
      body: '{"year":true}',
    });
    expect(await client.schedules.list()).toHaveLength(1);
  });

  it('routes Upstash-Cron on /v2/enqueue and the query string, and keeps ids apart from destinations', async () => {
    const cron = { 'upstash-cron': NEW_YEAR };

    const enqueued = await rawFetch(server, 'POST', `/v2/enqueue/q1/${receiver.url}/e`, {
      headers: cron,
    });
    const fromQuery = await rawFetch(
      server,
      'POST',
      `/v2/publish/${receiver.url}/q?tenant=a&upstash-cron=0+0+1+1+*`,
    );
    // A destination whose path ends in /pause is a create, never a pause.
    const pausePath = await rawFetch(server, 'POST', `/v2/schedules/${receiver.url}/x/pause`, {
      headers: cron,
    });
    const batch = await rawFetch(server, 'POST', '/v2/batch', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ destination: `${receiver.url}/b`, headers: cron }]),
    });

    const ids = [enqueued, fromQuery, pausePath].map(
      (answer) => (JSON.parse(answer.text) as { scheduleId: string }).scheduleId,
    );
    const shown = await Promise.all(ids.map((id) => client.schedules.get(id)));
    expect(shown.map((schedule) => [schedule.destination, schedule.queueName])).toEqual([
      [`${receiver.url}/e`, 'q1'],
      [`${receiver.url}/q?tenant=a`, undefined],
      [`${receiver.url}/x/pause`, undefined],
    ]);
    expect(shown[1]!.cron).toBe(NEW_YEAR);
    expect(JSON.parse(batch.text)).toEqual([
      { error: expect.stringContaining('Upstash-Cron is not accepted here') },
    ]);
  });

  it('fires on time: a fresh message per tick, signed, with Upstash-Schedule-Id, logged', async () => {
    const boundary = previousBoundary();
    clock.set(boundary - LEAD_MS);
    const destination = `${receiver.url}/tick`;

    const { scheduleId } = await client.schedules.create({
      destination,
      cron: '* * * * *',
      body: JSON.stringify({ report: 'minutely' }),
      headers: { 'x-tenant': 'a' },
    });
    const [request] = await receiver.waitForRequests(1, 5_000);

    const messageId = String(request!.headers['upstash-message-id']);
    expect(messageId).toMatch(/^msg_/);
    expect(request!.headers['upstash-schedule-id']).toBe(scheduleId);
    expect(request!.headers['x-tenant']).toBe('a');
    expect(request!.body.toString('utf8')).toBe('{"report":"minutely"}');
    await expectSignedDelivery(request!, destination);
    await eventually(async () =>
      expect(await client.schedules.get(scheduleId)).toMatchObject({
        lastScheduleTime: boundary,
        nextScheduleTime: boundary + MINUTE_MS,
      }),
    );
    const { logs } = await client.logs({ filter: { scheduleId } });
    expect(logs.map((log) => [log.messageId, log.state])).toEqual(
      expect.arrayContaining([
        [messageId, 'CREATED'],
        [messageId, 'DELIVERED'],
      ]),
    );
    await expectNoMoreRequests(receiver, 1);
  });

  it("delivers a tick into the schedule's queue", async () => {
    const boundary = previousBoundary();
    clock.set(boundary - LEAD_MS);

    const { scheduleId } = await client.schedules.create({
      destination: `${receiver.url}/queued`,
      cron: '* * * * *',
      queueName: 'ticks',
    });
    const [request] = await receiver.waitForRequests(1, 5_000);

    expect(request!.headers['upstash-schedule-id']).toBe(scheduleId);
    expect((await client.queue({ queueName: 'ticks' }).get()).name).toBe('ticks');
  });
});

describe('schedules across restarts', () => {
  let receiver: TestReceiver;
  let server: TestServer | undefined;
  let dataDir: string | undefined;

  beforeEach(async () => {
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await receiver.stop();
  });

  async function restart(clockAt: number): Promise<Client> {
    await server?.stop();
    server = await startTestServer({ SQSTASH_DATA_DIR: dataDir! }, movingClock(clockAt));
    return new Client({ baseUrl: server.url, token: DEV_TOKEN });
  }

  it('fires the next tick on time after a restart and never fires a tick twice', async () => {
    // Prepare: the tick at `boundary` fires and is recorded.
    const boundary = previousBoundary();
    server = await startTestServer({}, movingClock(boundary - LEAD_MS));
    dataDir = server.dataDir;
    let client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const destination = `${receiver.url}/restart`;
    const { scheduleId } = await client.schedules.create({ destination, cron: '* * * * *' });
    await receiver.waitForRequests(1, 5_000);
    await eventually(async () =>
      expect((await client.schedules.get(scheduleId)).lastScheduleTime).toBe(boundary),
    );

    // Act 1: restart with the clock before the recorded next tick.
    const next = boundary + MINUTE_MS;
    // Four seconds ahead, so that a start slowed by a loaded machine still leaves the second
    // of silence below before the next tick is due.
    client = await restart(next - 4_000);

    // Assess 1: the fired tick does not fire again; the next one fires on time, once.
    await expectNoMoreRequests(receiver, 1, 1_000);
    const requests = await receiver.waitForRequests(2, 8_000);
    await eventually(async () =>
      expect(await client.schedules.get(scheduleId)).toMatchObject({
        lastScheduleTime: next,
        nextScheduleTime: next + MINUTE_MS,
      }),
    );
    expect(requests.map((request) => request.headers['upstash-schedule-id'])).toEqual([
      scheduleId,
      scheduleId,
    ]);
    expect(new Set(requests.map((request) => request.headers['upstash-message-id'])).size).toBe(2);
    await expectSignedDelivery(requests[1]!, destination);

    // Act 2: as if the process had died after publishing the tick at `next` but before
    // recording it, restart after it fell due.
    await server!.stop();
    const db = openDatabase(dataDir, 'NORMAL');
    db.prepare(
      'UPDATE schedules SET last_schedule_time = ?, next_schedule_time = ? WHERE id = ?',
    ).run(boundary, next, scheduleId);
    db.close();
    server = undefined;
    client = await restart(next + 2_000);

    // Assess 2: the tick fires again, finds its message published, and is only recorded.
    await eventually(async () =>
      expect(await client.schedules.get(scheduleId)).toMatchObject({
        lastScheduleTime: next,
        nextScheduleTime: next + MINUTE_MS,
      }),
    );
    await expectNoMoreRequests(receiver, 2, 500);
  }, 30_000);
});
