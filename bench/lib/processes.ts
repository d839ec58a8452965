import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadJob, LoadResult } from '../load/protocol';

export const ROOT = join(__dirname, '..', '..');
const READY = /running at (http:\/\/\S+)/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** A server under test, in its own process. */
export type ServerProcess = {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if it has not exited in time. */
  stop(): Promise<void>;
};

/**
 * Runs a TypeScript entry point as `node --import tsx <entry>`; resolves once it prints its URL.
 * `root` is the checkout the entry is taken from (bench/ab.ts runs two).
 */
export async function startServer(
  entry: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
  nodeArgs: readonly string[] = [],
  root: string = ROOT,
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', join(root, entry), ...args],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not start within ${START_TIMEOUT_MS}ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      // Keep reading after the readiness line, so a full pipe can never block the server.
      if (output.length < 64_000) output += chunk.toString();
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The embedded server as `npm start` runs it, on a fresh data directory removed on stop. */
export async function startSqstash(
  env: Readonly<Record<string, string>> = {},
  root: string = ROOT,
): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-bench-'));
  const server = await startServer(
    'bin/sqstash.ts',
    [],
    { PORT: '0', HOST: '127.0.0.1', SQSTASH_DATA_DIR: dataDir, ...env },
    [],
    root,
  );
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs one job in a fresh load generator process and resolves with its result. */
export async function runLoad<T extends LoadResult>(job: LoadJob): Promise<T> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'load', 'generator.ts'), JSON.stringify(job)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.trim().split('\n').pop();
  if (code !== 0 || !line) {
    throw new Error(`load generator failed (${code}) on ${job.kind}:\n${stderr}${stdout}`);
  }
  return JSON.parse(line) as T;
}

/**
 * Starts a server, runs `body` against it, and always stops it. Then flushes the file system's
 * dirty pages (`sync`): what one run wrote would otherwise be written back during the next,
 * slowing the next run's fsyncs, which would favour whichever server runs first.
 */
export async function withServer<T>(
  start: () => Promise<ServerProcess>,
  body: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await body(server);
  } finally {
    await server.stop();
    execFileSync('sync');
  }
}
