import { Client } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { concurrencyProbe, TestReceiver } from '../helpers/receiver';

describe('FIFO queues with the official SDK', () => {
  let server: TestServer;
  let client: Client;
  let receiver: TestReceiver;

  beforeAll(async () => {
    server = await startTestServer();
    client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
  });
  afterAll(async () => {
    await stopTestServer(server);
  });
  beforeEach(async () => {
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    await receiver.stop();
  });

  it('creates a queue on first enqueue with parallelism 1, and upserts, gets, lists and deletes it', async () => {
    const queue = client.queue({ queueName: 'orders' });

    await queue.enqueueJSON({ url: `${receiver.url}/a`, body: { n: 1 } });
    const created = await queue.get();
    await queue.upsert({ parallelism: 3 });
    const updated = await queue.get();
    const listed = await client.queue().list();
    await queue.delete();

    expect(created).toMatchObject({ name: 'orders', parallelism: 1, paused: false });
    expect(typeof created.createdAt).toBe('number');
    expect(updated.parallelism).toBe(3);
    expect(listed.map((item) => item.name)).toContain('orders');
    await expect(queue.get()).rejects.toThrow(/not found/);
  });

  it('delivers in enqueue order, one at a time, under concurrent publishes', async () => {
    const { probe, responder } = concurrencyProbe(30);
    receiver.respondWith(responder);
    const queue = client.queue({ queueName: 'fifo-concurrent' });
    const COUNT = 20;

    const published = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        queue.enqueueJSON({ url: `${receiver.url}/m`, body: { i } }),
      ),
    );
    const requests = await receiver.waitForRequests(COUNT, 20_000);

    expect(probe.max).toBe(1);
    expect(new Set(requests.map((request) => request.headers['upstash-message-id']))).toEqual(
      new Set(published.map((p) => p.messageId)),
    );
    // Each delivery starts only after the previous one's response arrived.
    for (let i = 1; i < requests.length; i += 1) {
      expect(requests[i]!.receivedAt).toBeGreaterThanOrEqual(requests[i - 1]!.receivedAt + 25);
    }
  });

  it('keeps strict order for sequential enqueues, through a retried head message', async () => {
    receiver.respondWith((request, index) => ({
      status: index < 2 && request.path === '/0' ? 500 : 200,
    }));
    const queue = client.queue({ queueName: 'fifo-retry' });

    for (let i = 0; i < 4; i += 1) {
      await queue.enqueueJSON({
        url: `${receiver.url}/${i}`,
        body: { i },
        retries: 3,
        retryDelay: '100',
      });
    }
    const requests = await receiver.waitForRequests(6, 15_000);

    expect(requests.map((request) => request.path)).toEqual(['/0', '/0', '/0', '/1', '/2', '/3']);
  });

  it('starts the next message only after the previous message callback was delivered', async () => {
    const callbackReceiver = await TestReceiver.start(() => ({ status: 200, delayMs: 300 }));
    try {
      const queue = client.queue({ queueName: 'fifo-callbacks' });
      await queue.enqueueJSON({
        url: `${receiver.url}/first`,
        body: {},
        callback: `${callbackReceiver.url}/cb`,
      });
      await queue.enqueueJSON({ url: `${receiver.url}/second`, body: {} });

      const [first, second] = await receiver.waitForRequests(2, 10_000);
      const [callback] = await callbackReceiver.waitForRequests(1);

      expect(first!.path).toBe('/first');
      expect(second!.path).toBe('/second');
      // The callback's response took 300 ms; the second message waited for it.
      expect(second!.receivedAt).toBeGreaterThanOrEqual(callback!.receivedAt + 250);
    } finally {
      await callbackReceiver.stop();
    }
  });

  it('holds messages in a paused queue until it is resumed, and reports its lag', async () => {
    const queue = client.queue({ queueName: 'fifo-paused' });
    await queue.upsert({ parallelism: 1, paused: true });

    await queue.enqueueJSON({ url: `${receiver.url}/held-1`, body: {} });
    await queue.enqueueJSON({ url: `${receiver.url}/held-2`, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const whilePaused = await queue.get();
    expect(receiver.requests).toHaveLength(0);
    await queue.resume();

    const requests = await receiver.waitForRequests(2);
    expect(whilePaused).toMatchObject({ paused: true, lag: 2 });
    expect(requests.map((request) => request.path)).toEqual(['/held-1', '/held-2']);
    await eventually(async () => expect((await queue.get()).lag).toBe(0));
  });

  it('runs up to `parallelism` messages at once', async () => {
    const { probe, responder } = concurrencyProbe(200);
    receiver.respondWith(responder);
    const queue = client.queue({ queueName: 'fifo-parallel' });
    await queue.upsert({ parallelism: 3 });

    await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        queue.enqueueJSON({ url: `${receiver.url}/p`, body: { i } }),
      ),
    );
    await receiver.waitForRequests(9);

    expect(probe.max).toBe(3);
  });

  it('refuses an invalid queue name and parallelism with a clear 400', async () => {
    const upsert = (body: unknown) =>
      fetch(`${server.url}/v2/queues`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEV_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const badName = await upsert({ queueName: 'bad name', parallelism: 1 });
    const badParallelism = await upsert({ queueName: 'ok', parallelism: 0 });

    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { error: string }).error).toMatch(
      /invalid queue name "bad name"/,
    );
    expect(badParallelism.status).toBe(400);
    expect(((await badParallelism.json()) as { error: string }).error).toMatch(/parallelism/);
  });
});
