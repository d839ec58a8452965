import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawAnswer } from '../helpers/raw-api';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer } from '../helpers/server-process';

const SECRET_TOKEN = 'health-test-token-not-for-anyone';

async function health(url: string, method = 'GET'): Promise<RawAnswer> {
  return readAnswer(await fetch(`${url}/healthz`, { method }));
}

/** Sets the largest file the server may write: `0` makes every write to its files fail. */
function limitFileSize(server: ServerProcess, bytes: '0' | 'unlimited'): void {
  execFileSync('prlimit', ['--pid', String(server.child.pid), `--fsize=${bytes}:`]);
}

describe('GET /healthz', () => {
  let server: ServerProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-health-'));
    server = await spawnServer(
      { SQSTASH_DATA_DIR: dataDir, QSTASH_TOKEN: SECRET_TOKEN },
      { writesMayFail: true },
    );
  });
  afterAll(async () => {
    await killHard(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 200 {"status":"ok"} without a token, and nothing more', async () => {
    const answer = await health(server.url);
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });

    expect(answer).toEqual({
      status: 200,
      contentType: 'application/json',
      json: { status: 'ok' },
    });
    expect(head.status).toBe(200);
  });

  it('refuses other methods with a JSON 405', async () => {
    const answer = await health(server.url, 'POST');

    expect(answer.status).toBe(405);
    expect(answer.json).toEqual({ error: expect.stringContaining('use GET or HEAD') });
  });

  it('answers 503 while the database cannot write, and 200 again once it can', async () => {
    limitFileSize(server, '0');
    const failing = await health(server.url);
    const publishWhileFailing = await publishRaw(server.url, 'http://127.0.0.1:9/hook', {
      token: SECRET_TOKEN,
      body: 'x',
    });
    limitFileSize(server, 'unlimited');
    const recovered = await health(server.url);
    const publishAfter = await publishRaw(server.url, 'http://127.0.0.1:9/hook', {
      token: SECRET_TOKEN,
      headers: { 'Upstash-Delay': '1d' },
      body: 'x',
    });

    expect(failing).toEqual({
      status: 503,
      contentType: 'application/json',
      json: { status: 'unavailable', error: 'the database does not answer: disk I/O error' },
    });
    expect(publishWhileFailing.status).toBe(500);
    expect(recovered.json).toEqual({ status: 'ok' });
    expect(publishAfter.status).toBe(200);
    expect(server.output()).not.toContain(SECRET_TOKEN);
  });
});
