import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

const REDIS_SERVER = 'redis-server';
const START_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

/** A Redis the bench started, or why there is none. */
export type RedisProcess =
  | { readonly available: true; readonly url: string; readonly pid: number; stop(): Promise<void> }
  | { readonly available: false; readonly reason: string };

function installed(): boolean {
  try {
    execFileSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A port free right now on 127.0.0.1 (redis-server takes a port number, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts Debian's redis-server on a fresh directory, durable as a production BullMQ would run it:
 * AOF on, fsynced every second (`appendfsync everysec`), no RDB snapshots. Listens on 127.0.0.1
 * only; removed again by stop().
 */
export async function startRedis(): Promise<RedisProcess> {
  if (!installed()) {
    return {
      available: false,
      reason: 'redis-server is not installed (Debian: apt-get install redis-server)',
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sqstash-bench-redis-'));
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER,
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (error) {
      client.disconnect();
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        return { available: false, reason: `redis-server did not start: ${String(error)}` };
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  client.disconnect();
  return {
    available: true,
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
