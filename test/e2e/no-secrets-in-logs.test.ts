import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsonLogger } from '../../lambdas/embedded/json-logger';
import type { TestServer } from '../helpers/embedded-server';
import { eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer } from '../helpers/server-process';

// Operator secrets, not the public development ones: those are printed at start by design.
const TOKEN = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const CURRENT_KEY = 'sig_CurrentKeyForTheLogTest0123456';
const NEXT_KEY = 'sig_NextKeyForTheLogTest0123456789';
/** A receiver's own secret, forwarded to it in a header. */
const DESTINATION_SECRET = 'Bearer dest_s3cr3t_f0rwarded_t0_the_receiver';
const SECRET_ENV = {
  QSTASH_TOKEN: TOKEN,
  QSTASH_CURRENT_SIGNING_KEY: CURRENT_KEY,
  QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
};

type Receivers = { ok: TestReceiver; failing: TestReceiver };

/**
 * Traffic that touches every path that logs: publishes (token in the header and in the query),
 * deliveries, failed attempts, callbacks and failure callbacks, a dead letter and its retry, a
 * refused token, a bad request, a key rotation and deliveries signed with the rotated key.
 * Resolves every secret the server held or produced: the token, each signing key, and each
 * `Upstash-Signature` JWT it sent.
 */
async function runTraffic(baseUrl: string, receivers: Receivers): Promise<string[]> {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const api = async (method: string, path: string) =>
    readAnswer(await fetch(`${baseUrl}${path}`, { method, headers: auth }));
  const keysBefore = (await api('GET', '/v2/keys')).json as { current: string; next: string };
  const publish = (url: string, headers: Record<string, string> = {}, query?: string) =>
    publishRaw(baseUrl, url, {
      token: query ? null : TOKEN,
      query,
      headers: { 'Upstash-Forward-Authorization': DESTINATION_SECRET, ...headers },
      body: 'payload',
    });

  const statuses = [
    (await publish(`${receivers.ok.url}/plain`)).status,
    (await publish(`${receivers.ok.url}/by-query`, {}, `qstash_token=${TOKEN}`)).status,
    (
      await publish(`${receivers.ok.url}/with-callback`, {
        'Upstash-Callback': `${receivers.ok.url}/callback`,
      })
    ).status,
    (
      await publish(`${receivers.failing.url}/fails`, {
        'Upstash-Retries': '1',
        'Upstash-Retry-Delay': '10',
        'Upstash-Failure-Callback': `${receivers.ok.url}/failure-callback`,
      })
    ).status,
    (await publishRaw(baseUrl, `${receivers.ok.url}/x`, { token: `${TOKEN}-wrong` })).status,
    (await publish(`${receivers.ok.url}/x`, { 'Upstash-Retries': 'many' })).status,
  ];
  expect(statuses).toEqual([200, 200, 200, 200, 401, 400]);
  await eventually(async () => {
    const dlq = (await api('GET', '/v2/dlq')).json as { messages: { dlqId: string }[] };
    expect(dlq.messages).toHaveLength(1);
    expect(receivers.ok.requests.map((request) => request.path)).toEqual(
      expect.arrayContaining(['/callback', '/failure-callback']),
    );
  });
  const { messages } = (await api('GET', '/v2/dlq')).json as { messages: { dlqId: string }[] };
  expect((await api('POST', `/v2/dlq/retry/${messages[0]!.dlqId}`)).status).toBe(201);

  const rotated = (await api('POST', '/v2/keys/rotate')).json as { current: string; next: string };
  expect((await publish(`${receivers.ok.url}/after-rotation`)).status).toBe(200);
  await eventually(() =>
    expect(receivers.ok.requests.map((request) => request.path)).toContain('/after-rotation'),
  );
  // The retried dead letter fails again, twice: wait for it so its log lines are in.
  await receivers.failing.waitForRequests(4);

  const signatures = [...receivers.ok.requests, ...receivers.failing.requests].map((request) =>
    String(request.headers['upstash-signature']),
  );
  expect(signatures.every((signature) => signature.split('.').length === 3)).toBe(true);
  return [
    TOKEN,
    CURRENT_KEY,
    NEXT_KEY,
    DESTINATION_SECRET,
    ...Object.values(keysBefore),
    ...Object.values(rotated),
    ...signatures,
  ];
}

function expectNoSecrets(log: string, secrets: readonly string[]): void {
  const leaked = secrets.filter((secret) => log.includes(secret));
  expect(leaked).toEqual([]);
  // A JWT's signature part alone would be a leak too.
  const signatureParts = secrets
    .filter((s) => s.split('.').length === 3)
    .map((s) => s.split('.')[2]!);
  expect(signatureParts.filter((part) => log.includes(part))).toEqual([]);
}

describe('no token, signing key or signature in any log line', () => {
  let receivers: Receivers;

  beforeEach(async () => {
    receivers = {
      ok: await TestReceiver.start(),
      failing: await TestReceiver.start(() => ({ status: 500, body: 'boom' })),
    };
  });
  afterEach(async () => {
    await receivers.ok.stop();
    await receivers.failing.stop();
  });

  it('in the in-process server, through the memory logger and the JSON logger', async () => {
    let server: TestServer | undefined;
    const jsonLines: string[] = [];
    try {
      server = await startTestServer({ ...SECRET_ENV, SQSTASH_LOG_LEVEL: 'debug' });
      const json = createJsonLogger('debug', (line) => jsonLines.push(line));
      // Every line goes through both loggers: what one would write, the other would too.
      for (const level of ['debug', 'info', 'warn', 'error'] as const) {
        const memory = server.logger[level];
        server.logger[level] = (message, fields) => {
          memory(message, fields);
          json[level](message, fields);
        };
      }

      const secrets = await runTraffic(server.url, receivers);

      expect(server.logger.lines.some((line) => line.includes('delivery attempt failed'))).toBe(
        true,
      );
      expect(jsonLines).toHaveLength(server.logger.lines.length);
      expectNoSecrets(server.logger.lines.join('\n'), secrets);
      expectNoSecrets(jsonLines.join(''), secrets);
    } finally {
      await stopTestServer(server);
    }
  });

  it('in `npm start` at debug level: its start banner and every JSON line on stdout and stderr', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-logs-'));
    let server: ServerProcess | undefined;
    try {
      server = await spawnServer({
        ...SECRET_ENV,
        SQSTASH_DATA_DIR: dataDir,
        SQSTASH_LOG_LEVEL: 'debug',
      });

      const secrets = await runTraffic(server.url, receivers);

      const output = server.output();
      expect(output).toContain('QSTASH_TOKEN=<from environment>');
      expect(output).toContain('delivery attempt failed');
      expectNoSecrets(output, secrets);
    } finally {
      if (server) await killHard(server);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
