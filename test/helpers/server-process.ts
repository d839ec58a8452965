import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const READY = /running at (http:\/\/\S+)/;

export type ServerProcess = {
  url: string;
  child: ChildProcessWithoutNullStreams;
  output: () => string;
};

export type SpawnOptions = {
  readonly timeoutMs?: number;
  /**
   * Start the process with SIGXFSZ ignored, so that a file size limit set on it later
   * (`prlimit --fsize`) makes its writes fail with EFBIG, as a full disk would, instead of
   * killing it.
   */
  readonly writesMayFail?: boolean;
};

/**
 * Runs `bin/sqstash.ts` as its own process, exactly as `npm start` does, so tests can kill it
 * for real. Resolves when it prints its readiness line.
 */
export async function spawnServer(
  env: Record<string, string>,
  { timeoutMs = 20_000, writesMayFail = false }: SpawnOptions = {},
): Promise<ServerProcess> {
  const node = [process.execPath, '--import', 'tsx', join(ROOT, 'bin', 'sqstash.ts')];
  // An ignored signal stays ignored across exec, so bash hands it to node and steps aside.
  const [command, ...args] = writesMayFail
    ? ['bash', '-c', `trap '' XFSZ; exec "$@"`, 'bash', ...node]
    : node;
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SQSTASH_LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start within ${timeoutMs}ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
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
      reject(new Error(`server exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { url, child, output: () => output };
}

/** kill -9: no handler runs, nothing is flushed; whatever was acknowledged must be on disk. */
export async function killHard(server: ServerProcess): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGKILL');
  await exited;
}

/** SIGTERM and wait for the process to exit; resolves its exit code. */
export async function stopGracefully(server: ServerProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    server.child.once('exit', (code) => resolve(code)),
  );
  server.child.kill('SIGTERM');
  return exited;
}
