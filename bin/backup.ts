import { createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import Database from 'better-sqlite3';
import { DEV_TOKEN } from '../lambdas/embedded/dev-credentials';

const USAGE = `usage: npm run backup -- FILE

Copies the running sqstash server's database into FILE, online: the server keeps serving, and
the copy holds every message it acknowledged before the copy completed. The server is found at
QSTASH_URL (default http://127.0.0.1:8080) and asked with QSTASH_TOKEN (default: the development
token). FILE must not exist. To restore, stop the server and put FILE in an empty data directory
as sqstash.db (README, Durability).`;

/**
 * `npm run backup -- FILE`: downloads a consistent copy of the live database from the server's
 * `GET /backup`, checks that it is a sound SQLite database of sqstash's, and only then puts it
 * at FILE (an interrupted or damaged download never leaves a FILE behind).
 */
async function main(args: readonly string[]): Promise<void> {
  if (args[0] === '--help' || args[0] === '-h') {
    console.log(USAGE);
    return;
  }
  if (args.length !== 1) throw new Error(USAGE);
  const file = args[0]!;
  if (existsSync(file)) throw new Error(`${file} already exists; choose a new file name`);
  const base = process.env.QSTASH_URL ?? 'http://127.0.0.1:8080';
  const token = process.env.QSTASH_TOKEN ?? DEV_TOKEN;
  const response = await fetch(new URL('/backup', base), {
    headers: { authorization: `Bearer ${token}` },
  }).catch((error: unknown) => {
    throw new Error(
      `cannot reach the sqstash server at ${base} (set QSTASH_URL): ${causeOf(error)}`,
    );
  });
  if (response.status !== 200 || !response.body) {
    const text = await response.text();
    throw new Error(`the server at ${base} answered ${response.status}: ${text}`);
  }
  const partial = `${file}.partial`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as ReadableStream<Uint8Array>),
      createWriteStream(partial, { flags: 'wx' }),
    );
    const expected = Number(response.headers.get('content-length'));
    const bytes = statSync(partial).size;
    if (bytes !== expected) {
      throw new Error(`the download stopped after ${bytes} of ${expected} bytes`);
    }
    const version = checkDatabase(partial);
    renameSync(partial, file);
    console.log(`backup written to ${file}: ${bytes} bytes, schema version ${version}`);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/** Opens the copy as SQLite does and checks every page and index; resolves its schema version. */
function checkDatabase(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const problems = db.pragma('integrity_check', { simple: false }) as {
      integrity_check: string;
    }[];
    if (problems.length !== 1 || problems[0]?.integrity_check !== 'ok') {
      throw new Error(`the copy is damaged: ${problems.map((p) => p.integrity_check).join('; ')}`);
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 1) throw new Error('the copy is not a sqstash database (no schema version)');
    return version;
  } finally {
    db.close();
  }
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  return cause instanceof Error ? cause.message : String(cause);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
