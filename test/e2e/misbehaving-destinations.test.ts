import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import {
  closedPortUrl,
  hasOpenssl,
  startHangingServer,
  startRawServer,
  startSelfSignedHttpsServer,
} from '../helpers/misbehaving-servers';
import { publishRaw } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';

const MIB = 1024 * 1024;
const CONCURRENCY = 8;
/** The default per-destination cap: three quarters of the slots. */
const PER_DESTINATION = 6;

type LoggedEvent = {
  messageId: string;
  state: string;
  error?: string;
  responseStatus?: number;
  responseBody?: string;
};

async function eventsOf(server: TestServer, messageId: string): Promise<LoggedEvent[]> {
  const response = await fetch(`${server.url}/v2/events?messageId=${messageId}`, {
    headers: { Authorization: `Bearer ${DEV_TOKEN}` },
  });
  return ((await response.json()) as { events: LoggedEvent[] }).events;
}

/** Publishes one attempt (no retries) and resolves the ERROR event once the message FAILED. */
async function failedAttempt(
  server: TestServer,
  destination: string,
  headers: Record<string, string> = {},
): Promise<{ messageId: string; error: LoggedEvent }> {
  const answer = await publishRaw(server.url, destination, {
    headers: { 'Upstash-Retries': '0', 'Upstash-Timeout': '2s', ...headers },
    body: 'x',
  });
  expect(answer.status).toBe(200);
  const { messageId } = answer.json as { messageId: string };
  const error = await eventually(async () => {
    const events = await eventsOf(server, messageId);
    expect(events.map((event) => event.state)).toContain('FAILED');
    return events.find((event) => event.state === 'ERROR')!;
  }, 15_000);
  return { messageId, error };
}

/** The server's own log line for the failed attempt, which must say the same. */
function expectLoggedFailure(server: TestServer, messageId: string, error: string): void {
  const line = server.logger.lines
    .map((text) => JSON.parse(text) as Record<string, unknown>)
    .find((entry) => entry.messageId === messageId);
  expect(line).toMatchObject({
    level: 'warn',
    message: 'delivery attempt failed; message dead-lettered',
    error,
    retried: 0,
  });
}

/** An HTTP server whose handler gets the raw response, for answers TestReceiver cannot give. */
async function startHttp(handler: Parameters<typeof createServer>[1]): Promise<{
  url: string;
  server: Server;
}> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('destinations that misbehave: one clear error per attempt, the server unharmed', () => {
  let server: TestServer;
  let fast: TestReceiver;
  const cleanups: Array<() => Promise<void>> = [];
  const track = <T extends { stop(): Promise<void> }>(started: T): T => {
    cleanups.push(() => started.stop());
    return started;
  };

  beforeAll(async () => {
    server = await startTestServer({ SQSTASH_DELIVERY_CONCURRENCY: String(CONCURRENCY) });
    fast = track(await TestReceiver.start());
  });
  afterAll(async () => {
    await stopTestServer(server);
    for (const cleanup of cleanups) await cleanup();
  });

  it('times out a destination that never answers, after Upstash-Timeout', async () => {
    const hanging = track(await startHangingServer());

    const started = Date.now();
    const { messageId, error } = await failedAttempt(server, `${hanging.url}/hang`, {
      'Upstash-Timeout': '1s',
    });

    expect(error.error).toBe('timed out after 1000ms (Upstash-Timeout)');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expectLoggedFailure(server, messageId, error.error!);
  });

  it('times out a destination that sends its body too slowly: the timeout covers the exchange', async () => {
    const { server: slow, url } = await startHttp((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      const drip = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(drip));
    });
    cleanups.push(() => closeHttp(slow));

    const { error } = await failedAttempt(server, `${url}/drip`, { 'Upstash-Timeout': '1s' });

    expect(error.error).toBe('timed out after 1000ms (Upstash-Timeout)');
  });

  it('reports a refused connection', async () => {
    const { error } = await failedAttempt(server, `${await closedPortUrl()}/nobody`);

    expect(error.error).toBe('connection refused (ECONNREFUSED)');
    expect(error.responseStatus).toBeUndefined();
  });

  it('reports a connection reset before any response', async () => {
    const resetting = track(await startRawServer((socket) => socket.resetAndDestroy()));

    const { error } = await failedAttempt(server, `${resetting.url}/reset`);

    expect(error.error).toMatch(
      /^connection reset before a complete response \((ECONNRESET|UND_ERR_SOCKET)\)$/,
    );
  });

  it('reports a response cut off in the middle of its body', async () => {
    const halfway = track(
      await startRawServer((socket) => {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part of it');
      }),
    );

    const { error } = await failedAttempt(server, `${halfway.url}/half`);

    expect(error.error).toMatch(/^connection reset before a complete response/);
  });

  it('reports an answer that is not HTTP', async () => {
    const garbage = track(
      await startRawServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')),
    );

    const { error } = await failedAttempt(server, `${garbage.url}/ssh`);

    expect(error.error).toMatch(/^invalid HTTP response: Response does not match the HTTP\/1.1/);
  });

  it('does not follow a redirect: a 3xx is a failed attempt, and the target sees nothing', async () => {
    const target = track(await TestReceiver.start());
    const redirecting = track(
      await TestReceiver.start(() => ({
        status: 302,
        headers: { location: `${target.url}/elsewhere` },
        body: 'moved',
      })),
    );

    const { error } = await failedAttempt(server, `${redirecting.url}/moved`);

    expect(error.error).toBe('destination answered 302 (redirects are not followed): moved');
    expect(error.responseStatus).toBe(302);
    expect(target.requests).toHaveLength(0);
  });

  it('keeps at most 1 MiB of a huge response for the callback, and drops the rest unread', async () => {
    const callbacks = track(await TestReceiver.start());
    let written = 0;
    const { server: huge, url } = await startHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      // Writes until the client stops reading: 64 MiB at most, were it all read.
      const pump = () => {
        while (written < 64 * MIB) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    cleanups.push(() => closeHttp(huge));

    const answer = await publishRaw(server.url, `${url}/huge`, {
      headers: { 'Upstash-Callback': `${callbacks.url}/cb` },
      body: 'x',
    });
    const [callback] = await callbacks.waitForRequests(1, 15_000);

    expect(answer.status).toBe(200);
    const payload = JSON.parse(callback!.body.toString()) as { status: number; body: string };
    expect(payload.status).toBe(200);
    const kept = Buffer.from(payload.body, 'base64');
    // Compared as a boolean: a failing toEqual would print a million bytes.
    expect(kept.length).toBe(MIB);
    expect(kept.equals(Buffer.alloc(MIB, 0x61))).toBe(true);
    expect(written).toBeLessThan(16 * MIB);
  });

  it('reports a TLS failure: a self-signed certificate, and plain HTTP spoken to as HTTPS', async () => {
    if (!hasOpenssl()) {
      console.warn('openssl is not installed: the self-signed certificate case is not run');
      return;
    }
    const selfSigned = track(await startSelfSignedHttpsServer());
    const plain = track(await TestReceiver.start());

    const [certificate, wrongProtocol] = await Promise.all([
      failedAttempt(server, `${selfSigned.url.replace('127.0.0.1', 'localhost')}/tls`),
      failedAttempt(server, `${plain.url.replace('http://', 'https://')}/tls`),
    ]);

    expect(certificate.error.error).toBe(
      'TLS error: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    expect(wrongProtocol.error.error).toBe(
      'TLS error: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)',
    );
    expect(plain.requests).toHaveLength(0);
  });

  it('keeps serving a fast destination while a hanging one holds all the slots it may', async () => {
    const hanging = track(await startHangingServer());
    const backlog = 3 * CONCURRENCY;
    for (let i = 0; i < backlog; i += 1) {
      await publishRaw(server.url, `${hanging.url}/hang/${i}`, {
        headers: { 'Upstash-Timeout': '10s', 'Upstash-Retries': '0' },
        body: 'x',
      });
    }
    await eventually(() => expect(hanging.open()).toBe(PER_DESTINATION));
    const seen = fast.requests.length;

    const started = Date.now();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        publishRaw(server.url, `${fast.url}/fast/${i}`, { body: String(i) }),
      ),
    );
    await fast.waitForRequests(seen + 10, 5_000);
    const latencyMs = Date.now() - started;

    // Without a per-destination cap the fast messages waited for the first hanging ones to
    // time out (10 s here, 15 min by default).
    expect(latencyMs).toBeLessThan(2_000);
    expect(hanging.open()).toBe(PER_DESTINATION);
    expect(hanging.connections()).toBe(PER_DESTINATION);
  });
});

describe('the destination address policy (embedded server with loopback and private refused)', () => {
  let server: TestServer;
  let receiver: TestReceiver;

  beforeAll(async () => {
    server = await startTestServer({
      SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'false',
      SQSTASH_ALLOW_PRIVATE_DESTINATIONS: 'false',
    });
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it.each([
    [
      'the metadata address',
      'http://169.254.169.254/latest/meta-data/',
      '169.254.169.254, a link-local/metadata address',
    ],
    ['a private address', 'http://10.1.2.3/hook', '10.1.2.3, a private-network address'],
    [
      'an IPv4-mapped loopback address',
      'http://[::ffff:127.0.0.1]:1/hook',
      '::ffff:7f00:1, a loopback address',
    ],
    [
      '0.0.0.0, which reaches this host',
      'http://0.0.0.0:1/hook',
      '0.0.0.0, an unspecified address',
    ],
  ])('refuses %s as written in the URL, without connecting', async (_what, url, reason) => {
    const { messageId, error } = await failedAttempt(server, url);

    expect(error.error).toBe(
      `destination resolves to ${reason}${reason.includes('unspecified') ? ' (it reaches this host)' : ''}; refused by policy`,
    );
    expectLoggedFailure(server, messageId, error.error!);
  });

  it('refuses a host name that resolves to a loopback address, at connect time', async () => {
    const { error } = await failedAttempt(
      server,
      `${receiver.url.replace('127.0.0.1', 'localhost')}/by-name`,
    );

    expect(error.error).toMatch(
      /^destination resolves to (127\.0\.0\.1|::1), a loopback address; refused by policy$/,
    );
    expect(receiver.requests).toHaveLength(0);
  });

  it('refuses a callback to a refused address like any delivery', async () => {
    const { messageId, error } = await failedAttempt(server, `${receiver.url}/direct`, {
      'Upstash-Failure-Callback': 'http://169.254.169.254/callback',
      'Upstash-Failure-Callback-Retries': '0',
    });
    expect(error.error).toBe(
      'destination resolves to 127.0.0.1, a loopback address; refused by policy',
    );

    const callbackId = await eventually(async () => {
      const line = server.logger.lines
        .map((text) => JSON.parse(text) as Record<string, unknown>)
        .find(
          (entry) =>
            entry.destination === 'http://169.254.169.254' && entry.messageId !== messageId,
        );
      expect(line).toBeDefined();
      return String(line!.messageId);
    });
    const callbackEvents = await eventsOf(server, callbackId);
    expect(callbackEvents.find((event) => event.state === 'ERROR')?.error).toBe(
      'destination resolves to 169.254.169.254, a link-local/metadata address; refused by policy',
    );
    expect(receiver.requests).toHaveLength(0);
  });
});
