import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@upstash/qstash';
import type { EmbeddedConfig } from '../../lambdas/embedded/config';
import { loadEmbeddedConfig } from '../../lambdas/embedded/config';
import type { RunningServer } from '../../lambdas/embedded/start-embedded';
import { startEmbedded } from '../../lambdas/embedded/start-embedded';
import type { Clock } from '../../lambdas/ports/clock';
import type { Logger } from '../../lambdas/ports/logger';
import type { Responder } from './receiver';
import { TestReceiver } from './receiver';

export const DEV_TOKEN = 'eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=';
export const DEV_CURRENT_SIGNING_KEY = 'sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
export const DEV_NEXT_SIGNING_KEY = 'sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';

/** Log lines kept in memory, so tests can assert what was (and was not) logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export type TestServer = RunningServer & {
  config: EmbeddedConfig;
  dataDir: string;
  logger: ReturnType<typeof memoryLogger>;
};

/**
 * Starts the real embedded server in this process on a free 127.0.0.1 port, with its own
 * SQLite file in a temporary directory (or in `env.SQSTASH_DATA_DIR`, to restart on the data
 * of a stopped server). `env` is read exactly as `npm start` reads the environment; `clock` is
 * the server's time (e.g. `movingClock`, to make a cron tick due a second from now). Stop it
 * with `stopTestServer`, which deletes the data directory.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  clock?: Clock,
): Promise<TestServer> {
  const dataDir = env.SQSTASH_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'sqstash-test-'));
  const config = loadEmbeddedConfig({
    PORT: '0',
    SQSTASH_DATA_DIR: dataDir,
    SQSTASH_SHUTDOWN_GRACE: '1s',
    ...env,
  });
  const logger = memoryLogger();
  const server = await startEmbedded(config, logger, clock);
  return Object.assign(server, { config, dataDir, logger });
}

export async function stopTestServer(server: TestServer | undefined): Promise<void> {
  if (!server) return;
  await server.stop();
  rmSync(server.dataDir, { recursive: true, force: true });
}

/** Retries an assertion until it passes or `timeoutMs` runs out, then throws its last error. */
export async function eventually<T>(
  assertion: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** One server for a test file, an SDK client for it, and receivers stopped after each test. */
export type SdkSuite = {
  readonly server: TestServer;
  readonly client: Client;
  /** A real destination for this test; stopped in afterEach. */
  startReceiver(responder?: Responder): Promise<TestReceiver>;
};

/**
 * Registers the hooks most end-to-end files repeat: start the embedded server before all tests
 * (with `env` as startTestServer reads it), an official SDK client on it, receivers stopped
 * after each test, the server stopped after all. Read `server` and `client` inside tests only.
 */
export function useSdkSuite(env: Record<string, string> = {}): SdkSuite {
  let server: TestServer | undefined;
  let client: Client | undefined;
  const receivers: TestReceiver[] = [];
  beforeAll(async () => {
    server = await startTestServer(env);
    client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
  });
  afterAll(async () => {
    await stopTestServer(server);
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useSdkSuite: read server and client inside tests');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get client() {
      return started(client);
    },
    startReceiver: async (responder) => {
      const receiver = await TestReceiver.start(responder);
      receivers.push(receiver);
      return receiver;
    },
  };
}
