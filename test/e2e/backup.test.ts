import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@upstash/qstash';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../lambdas/adapters/embedded/sqlite-database';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';

const ROOT = join(__dirname, '..', '..');
const PREFILL_BATCHES = 10;
const BATCH_SIZE = 100;
const PUBLISHERS = 4;
const HELD = 20;
const BODY = 'b'.repeat(2048);

type CliRun = { code: number | null; stdout: string; stderr: string };

/** `npm run backup -- FILE`, as a user runs it. */
function runBackup(file: string, env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bin', 'backup.ts'), file],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
}

async function prefill(server: TestServer, destination: string): Promise<string[]> {
  const ids: string[] = [];
  for (let batch = 0; batch < PREFILL_BATCHES; batch++) {
    const response = await fetch(`${server.url}/v2/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEV_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        Array.from({ length: BATCH_SIZE }, () => ({
          destination,
          headers: { 'Upstash-Delay': '1d' },
          body: BODY,
        })),
      ),
    });
    const answers = (await response.json()) as { messageId: string }[];
    ids.push(...answers.map((answer) => answer.messageId));
  }
  return ids;
}

describe('online backup with npm run backup', () => {
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  let receiver: TestReceiver;
  let live: TestServer | undefined;
  let restored: TestServer | undefined;

  beforeAll(async () => {
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await stopTestServer(live);
    await stopTestServer(restored);
    await receiver.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('copies the database under load into a file a new server runs on, with every acknowledged message', async () => {
    live = await startTestServer();
    const client = new Client({ baseUrl: live.url, token: DEV_TOKEN });
    const held = client.queue({ queueName: 'held' });
    await held.upsert({ paused: true });
    const heldIds: string[] = [];
    for (let i = 0; i < HELD; i++) {
      heldIds.push(
        (await held.enqueueJSON({ url: `${receiver.url}/held`, body: { i } })).messageId,
      );
    }
    const acknowledged = await prefill(live, `${receiver.url}/later`);

    // Publishers keep publishing (delayed and due at once) until the backup is done.
    let backingUp = true;
    let duringBackup = 0;
    const server = live;
    const publishers = Array.from({ length: PUBLISHERS }, async (_, n) => {
      for (let i = 0; backingUp; i++) {
        const delayed = i % 2 === 0;
        const answer = await publishRaw(
          server.url,
          `${receiver.url}/${delayed ? 'later' : 'now'}`,
          {
            headers: delayed ? { 'Upstash-Delay': '1d' } : {},
            body: `${n}-${i}-${BODY}`,
          },
        );
        expect(answer.status).toBe(200);
        duringBackup += 1;
      }
    });
    const file = join(tempDir('sqstash-backup-'), 'copy.db');
    const run = await runBackup(file, { QSTASH_URL: live.url, QSTASH_TOKEN: DEV_TOKEN });
    backingUp = false;
    await Promise.all(publishers);
    await live.stop();
    const leftInDataDir = readdirSync(live.dataDir).filter((name) => name.startsWith('backup-'));

    expect(run).toEqual({
      code: 0,
      stdout: expect.stringContaining(`backup written to ${file}`),
      stderr: '',
    });
    expect(duringBackup).toBeGreaterThan(0);
    expect(leftInDataDir).toEqual([]);
    const copy = new Database(file, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    copy.close();
    expect(readdirSync(join(file, '..'))).toEqual(['copy.db']);

    // Restore: the copy as the database of an empty data directory.
    const dataDir = tempDir('sqstash-restored-');
    copyFileSync(file, join(dataDir, DATABASE_FILE));
    restored = await startTestServer({ SQSTASH_DATA_DIR: dataDir });
    const missing: string[] = [];
    const ids = [...acknowledged];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
          const response = await fetch(`${restored!.url}/v2/messages/${id}`, {
            headers: { authorization: `Bearer ${DEV_TOKEN}` },
          });
          if (response.status !== 200) missing.push(id);
        }
      }),
    );
    expect({ checked: acknowledged.length, missing }).toEqual({
      checked: PREFILL_BATCHES * BATCH_SIZE,
      missing: [],
    });
    // The restored server delivers what the copy held: the paused queue's messages.
    await new Client({ baseUrl: restored.url, token: DEV_TOKEN })
      .queue({ queueName: 'held' })
      .resume();
    await eventually(() => {
      const delivered = receiver.requests
        .filter((request) => request.path === '/held')
        .map((request) => request.headers['upstash-message-id']);
      expect(new Set(delivered)).toEqual(new Set(heldIds));
    });
  });

  it('refuses a wrong token and an existing file, and leaves no file behind', async () => {
    await stopTestServer(live);
    live = await startTestServer();
    const dir = tempDir('sqstash-backup-');
    const existing = join(dir, 'existing.db');
    writeFileSync(existing, 'keep me');

    const wrongToken = await runBackup(join(dir, 'new.db'), {
      QSTASH_URL: live.url,
      QSTASH_TOKEN: 'wrong',
    });
    const overwrite = await runBackup(existing, { QSTASH_URL: live.url, QSTASH_TOKEN: DEV_TOKEN });

    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('answered 401: {"error":"invalid token"}');
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr).toContain('already exists');
    expect(readdirSync(dir)).toEqual(['existing.db']);
    expect(existsSync(existing)).toBe(true);
  });
});
