import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@upstash/qstash';
import { DEV_TOKEN } from '../helpers/embedded-server';
import { TestReceiver } from '../helpers/receiver';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer, stopGracefully } from '../helpers/server-process';

const DELAYED_MESSAGES = 250;
const IN_FLIGHT_MESSAGES = 50;
const HANG_MS = 60_000;

describe('crash recovery (kill -9)', () => {
  let dataDir: string;
  let receiver: TestReceiver;
  let server: ServerProcess | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-crash-'));
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) await killHard(server);
    await receiver.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers every acknowledged message after SIGKILL and restart, delayed and in-flight alike', async () => {
    // Prepare: the destination hangs, so the first messages are mid-attempt when the server dies.
    receiver.respondWith(() => ({ status: 200, delayMs: HANG_MS }));
    server = await spawnServer({
      SQSTASH_DATA_DIR: dataDir,
      SQSTASH_DELIVERY_CONCURRENCY: String(IN_FLIGHT_MESSAGES),
      SQSTASH_DELIVERY_CONCURRENCY_PER_DESTINATION: String(IN_FLIGHT_MESSAGES),
    });
    const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const inFlight = await Promise.all(
      Array.from({ length: IN_FLIGHT_MESSAGES }, (_, i) =>
        client.publishJSON({ url: `${receiver.url}/in-flight`, body: { i } }),
      ),
    );
    const delayed = await Promise.all(
      Array.from({ length: DELAYED_MESSAGES }, (_, i) =>
        client.publishJSON({ url: `${receiver.url}/delayed`, body: { i }, delay: 3 }),
      ),
    );
    await receiver.waitForRequests(IN_FLIGHT_MESSAGES);

    // Act
    await killHard(server);
    const seenBeforeCrash = receiver.requests.length;
    receiver.respondWith(() => ({ status: 200 }));
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });

    // Assess: every acknowledged id arrives; the interrupted attempts arrive a second time.
    const acknowledged = new Set([...inFlight, ...delayed].map((published) => published.messageId));
    await receiver.waitForRequests(seenBeforeCrash + acknowledged.size, 30_000);
    const afterRestart = receiver.requests.slice(seenBeforeCrash);
    const deliveredIds = new Set(
      afterRestart.map((request) => String(request.headers['upstash-message-id'])),
    );
    expect(acknowledged.size).toBe(IN_FLIGHT_MESSAGES + DELAYED_MESSAGES);
    expect([...acknowledged].filter((id) => !deliveredIds.has(id))).toEqual([]);
    expect(afterRestart).toHaveLength(acknowledged.size);
    // A restart releases interrupted attempts uncounted: they are retried as attempt 0 again.
    const interrupted = afterRestart.filter((request) => request.path === '/in-flight');
    expect(interrupted.map((request) => request.headers['upstash-retried'])).toEqual(
      Array(IN_FLIGHT_MESSAGES).fill('0'),
    );
  }, 90_000);

  it('refuses a second server on the same data directory while the first runs', async () => {
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });

    await expect(spawnServer({ SQSTASH_DATA_DIR: dataDir })).rejects.toThrow(
      /in use by another sqstash process/,
    );
  }, 60_000);

  it('exits cleanly on SIGTERM and keeps undelivered messages for the next start', async () => {
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });
    const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const { messageId } = await client.publishJSON({
      url: `${receiver.url}/later`,
      body: {},
      delay: 2,
    });

    const exitCode = await stopGracefully(server);
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });

    const [request] = await receiver.waitForRequests(1, 15_000);
    expect(exitCode).toBe(0);
    expect(request!.headers['upstash-message-id']).toBe(messageId);
  }, 60_000);
});
