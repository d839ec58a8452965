import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Receiver } from '@upstash/qstash';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteWriteLock } from '../../lambdas/adapters/embedded/sqlite-write-lock';
import { loadEmbeddedConfig } from '../../lambdas/embedded/config';
import { messageWriters } from '../../lambdas/embedded/delivery-engine';
import { DeliveryThread } from '../../lambdas/embedded/delivery-thread';
import { systemClock } from '../../lambdas/ports/clock';
import type { TestServer } from '../helpers/embedded-server';
import {
  DEV_TOKEN,
  eventually,
  memoryLogger,
  startTestServer,
  stopTestServer,
} from '../helpers/embedded-server';
import { makeMessage } from '../helpers/messages';
import { publishRaw } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';

// Delivery runs on a thread of its own by default, or on the API's event loop; what crosses
// between the two (wake-ups, rotated keys, log lines, settled attempts for the metrics) must
// reach the other side, and the rest behave the same either way.
describe.each([
  ['on its own thread', 'true'],
  ["on the API's event loop", 'false'],
])('delivery %s', (_, deliveryThread) => {
  let server: TestServer | undefined;
  let receiver: TestReceiver;

  beforeEach(async () => {
    // The first attempt of each message fails, the retry succeeds.
    receiver = await TestReceiver.start((request) => ({
      status: request.headers['upstash-retried'] === '0' ? 503 : 200,
    }));
    server = await startTestServer({ SQSTASH_DELIVERY_THREAD: deliveryThread });
  });
  afterEach(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it('signs with rotated keys, logs the failed attempt and counts both in the metrics', async () => {
    // Arrange
    const api = server!.url;
    const authorization = { authorization: `Bearer ${DEV_TOKEN}` };
    const rotated = (await (
      await fetch(`${api}/v2/keys/rotate`, { method: 'POST', headers: authorization })
    ).json()) as { current: string; next: string };

    // Act
    const published = await publishRaw(api, `${receiver.url}/hook`, {
      headers: { 'Upstash-Retries': '1', 'Upstash-Retry-Delay': '0' },
      body: 'hello',
    });
    const messageId = (published.json as { messageId: string }).messageId;
    await eventually(() => expect(receiver.requests).toHaveLength(2));
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${api}/metrics`, { headers: authorization })).text();
      expect(text).toMatch(/^sqstash_messages_delivered_total\{kind="message"\} 1$/m);
      return text;
    });

    // Assess
    const verifier = new Receiver({
      currentSigningKey: rotated.current,
      nextSigningKey: rotated.next,
    });
    const delivered = receiver.requests[1]!;
    await expect(
      verifier.verify({
        signature: String(delivered.headers['upstash-signature']),
        body: delivered.body.toString(),
        url: `${receiver.url}/hook`,
      }),
    ).resolves.toBe(true);
    expect(metrics).toMatch(/^sqstash_messages_retried_total\{kind="message"\} 1$/m);
    const failedAttempt = server!.logger.lines
      .map((line) => JSON.parse(line) as { message: string; messageId?: string })
      .find((line) => line.messageId === messageId);
    expect(failedAttempt?.message).toBe('delivery attempt failed; will retry');
  });
});

describe('the delivery thread, should it die', () => {
  let dataDir: string;
  let db: ReturnType<typeof openDatabase>;
  let receiver: TestReceiver;
  let delivery: DeliveryThread | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-thread-'));
    // A destination that holds its first request, so that it is in flight when the thread dies.
    receiver = await TestReceiver.start((_, index) => ({
      status: 200,
      delayMs: index === 0 ? 60_000 : 0,
    }));
  });
  afterEach(async () => {
    await delivery?.stop(1_000);
    await receiver.stop();
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is replaced by another, which delivers again what the first had in flight', async () => {
    // Arrange: a thread, kept so that the test can end it.
    const config = loadEmbeddedConfig({ SQSTASH_DATA_DIR: dataDir });
    db = openDatabase(dataDir, config.sqliteSynchronous);
    const writeLock = new SqliteWriteLock();
    const { store } = messageWriters(db, config, systemClock, () => {}, writeLock);
    const logger = memoryLogger();
    const threads: Worker[] = [];
    delivery = new DeliveryThread({
      config,
      logger,
      telemetry: { published: () => {}, attemptSettled: () => {} },
      signingKeys: { current: config.currentSigningKey, next: config.nextSigningKey },
      writeLock,
      spawn: (source, options) => {
        const thread = new Worker(source, options);
        threads.push(thread);
        return thread;
      },
    });
    await delivery.start();
    const now = Date.now();
    const message = makeMessage({
      messageId: 'msg_held',
      url: `${receiver.url}/held`,
      notBefore: now,
      createdAt: now,
    });
    await store.insertMessage(message, undefined, now);
    delivery.notify(now);
    await eventually(() => expect(receiver.requests).toHaveLength(1));

    // Act: the thread dies with the attempt in flight.
    await threads[0]!.terminate();

    // Assess: another thread takes the lease back and delivers the message again, uncounted.
    await eventually(() => expect(receiver.requests).toHaveLength(2));
    expect(threads).toHaveLength(2);
    const again = receiver.requests[1]!.headers;
    expect([again['upstash-message-id'], again['upstash-retried']]).toEqual(['msg_held', '0']);
    expect(logger.lines.some((line) => line.includes('the delivery thread ended'))).toBe(true);
  });
});
