import { randomBytes } from 'node:crypto';
import { Client, QstashError } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_TOKEN,
  eventually,
  startTestServer,
  stopTestServer,
} from '../helpers/embedded-server';
import type { RawAnswer } from '../helpers/raw-api';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';
import {
  expectDeliveryHeaders,
  expectNoMoreRequests,
  expectSignedDelivery,
} from '../helpers/signed-delivery';

const MIB = 1024 * 1024;

/** An error answer: the status, a JSON `{"error": "..."}` and nothing else, naming each fragment. */
function expectErrorAnswer(answer: RawAnswer, status: number, ...fragments: string[]): void {
  expect(answer.status).toBe(status);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(answer.json).toEqual({ error: expect.any(String) });
  const { error } = answer.json as { error: string };
  for (const fragment of fragments) expect(error).toContain(fragment);
}

/** The SDK logs every failed request with console.error; these failures are the expected ones. */
function silenceSdkErrorLog(): void {
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
}

describe('bad input and authentication (raw HTTP)', () => {
  let server: TestServer;
  /** Every refused publish targets this receiver; the last test checks none was delivered. */
  let refused: TestReceiver;
  let accepted: TestReceiver;

  beforeAll(async () => {
    server = await startTestServer();
    refused = await TestReceiver.start();
    accepted = await TestReceiver.start();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    await stopTestServer(server);
    await refused.stop();
    await accepted.stop();
  });

  describe('authentication', () => {
    it('refuses a publish without a token: 401 {error}', async () => {
      const answer = await publishRaw(server.url, refused.url, { token: null, body: 'x' });

      expectErrorAnswer(answer, 401, 'missing token');
    });

    it('refuses a publish with a wrong bearer token: 401', async () => {
      const answer = await publishRaw(server.url, refused.url, {
        token: `${DEV_TOKEN}x`,
        body: 'x',
      });

      expectErrorAnswer(answer, 401, 'invalid token');
    });

    it('refuses an Authorization header that is not a bearer token: 401', async () => {
      const answer = await publishRaw(server.url, refused.url, {
        token: null,
        headers: { Authorization: `Basic ${DEV_TOKEN}` },
        body: 'x',
      });

      expect(answer.status).toBe(401);
    });

    it('refuses a wrong qstash_token query parameter: 401', async () => {
      const answer = await publishRaw(server.url, refused.url, {
        token: null,
        query: 'qstash_token=not-the-token',
        body: 'x',
      });

      expectErrorAnswer(answer, 401, 'invalid token');
    });

    it('accepts the token as the qstash_token query parameter and does not pass it on', async () => {
      const url = `${accepted.url}/by-query?a=1`;
      const answer = await publishRaw(server.url, url, {
        token: null,
        query: `qstash_token=${encodeURIComponent(DEV_TOKEN)}`,
        body: 'query auth',
      });

      expect(answer.status).toBe(200);
      const { messageId } = answer.json as { messageId: string };
      const [request] = await accepted.waitForRequests(1);
      expect(request!.path).toBe('/by-query?a=1');
      expect(request!.headers.authorization).toBeUndefined();
      expectDeliveryHeaders(request!, { messageId, retried: 0 });
      await expectSignedDelivery(request!, url);
    });

    it('surfaces a 401 through the SDK as a QstashError', async () => {
      const client = new Client({ baseUrl: server.url, token: 'wrong' });
      silenceSdkErrorLog();

      const publishing = client.publish({ url: refused.url, body: 'x' });

      await expect(publishing).rejects.toBeInstanceOf(QstashError);
      await expect(publishing).rejects.toMatchObject({ status: 401 });
    });
  });

  describe('GET /v2/keys', () => {
    it('returns exactly the dev signing keys for the dev token, as the SDK dev-mode check requires', async () => {
      const response = await fetch(`${server.url}/v2/keys`, {
        headers: { Authorization: `Bearer ${DEV_TOKEN}` },
      });
      const answer = await readAnswer(response);

      expect(answer.status).toBe(200);
      expect(answer.contentType).toMatch(/^application\/json/);
      expect(answer.json).toEqual({ current: DEV_CURRENT_SIGNING_KEY, next: DEV_NEXT_SIGNING_KEY });
    });

    it('requires the token', async () => {
      expectErrorAnswer(await readAnswer(await fetch(`${server.url}/v2/keys`)), 401);
    });
  });

  describe('refused publishes: 4xx with {"error"} naming the input', () => {
    it.each([
      ['Upstash-Delay', 'soon'],
      ['Upstash-Delay', '10x'],
      ['Upstash-Delay', '-5s'],
      ['Upstash-Not-Before', 'tomorrow'],
      ['Upstash-Retries', '6'],
      ['Upstash-Retries', '100'],
      ['Upstash-Retries', 'abc'],
      ['Upstash-Retries', '-1'],
      ['Upstash-Retries', '1.5'],
      ['Upstash-Retry-Delay', '1000 * (1 + retried'],
      ['Upstash-Retry-Delay', 'sleep(5)'],
      ['Upstash-Retry-Delay', 'attempts * 100'],
      ['Upstash-Method', 'FETCH'],
      ['Upstash-Timeout', 'forever'],
      ['Upstash-Deduplication-Id', 'order:1'],
      ['Upstash-Deduplication-Id', 'order 1'],
      ['Upstash-Callback', 'ftp://example.com/cb'],
      ['Upstash-Callback', 'not a url'],
      ['Upstash-Failure-Callback', 'example.com/failed'],
      ['Upstash-Content-Based-Deduplication', 'maybe'],
    ])('refuses %s: %s with 400', async (header, value) => {
      const answer = await publishRaw(server.url, refused.url, {
        headers: { [header]: value },
        body: 'x',
      });

      expectErrorAnswer(answer, 400, header, value);
    });

    it('names the cap when Upstash-Retries is above it', async () => {
      const answer = await publishRaw(server.url, refused.url, {
        headers: { 'Upstash-Retries': '6' },
        body: 'x',
      });

      expectErrorAnswer(answer, 400, 'Upstash-Retries', 'at most 5');
    });

    it('accepts Upstash-Retries at the cap', async () => {
      const answer = await publishRaw(server.url, `${accepted.url}/cap`, {
        headers: { 'Upstash-Retries': '5' },
        body: 'x',
      });

      expect(answer.status).toBe(200);
    });

    it.each([
      'ftp://example.com/x',
      'file:///etc/passwd',
      'http://',
      'https://user:pw@example.com/',
    ])('refuses the destination %s with 400', async (destination) => {
      const answer = await publishRaw(server.url, destination, { body: 'x' });

      expectErrorAnswer(answer, 400, 'destination', destination);
    });

    it('answers 404 naming an unknown URL group', async () => {
      const answer = await publishRaw(server.url, 'no-such-group', { body: 'x' });

      expectErrorAnswer(answer, 404, 'no-such-group');
    });

    it('refuses a body over 1 MiB with 413', async () => {
      const answer = await publishRaw(server.url, refused.url, {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: randomBytes(MIB + 1),
      });

      expectErrorAnswer(answer, 413, String(MIB));
    });

    it('accepts and delivers a body of exactly 1 MiB', async () => {
      const url = `${accepted.url}/one-mib`;
      const body = randomBytes(MIB);

      const answer = await publishRaw(server.url, url, {
        headers: { 'Content-Type': 'application/octet-stream' },
        body,
      });

      expect(answer.status).toBe(200);
      const request = await eventually(() => {
        const found = accepted.requests.find((r) => r.path === '/one-mib');
        if (!found) throw new Error('the 1 MiB message has not arrived yet');
        return found;
      });
      expect(request.body.equals(body)).toBe(true);
      await expectSignedDelivery(request, url);
    });

    it('surfaces a 400 through the SDK as a QstashError carrying the message', async () => {
      const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
      silenceSdkErrorLog();

      const publishing = client.publish({ url: refused.url, body: 'x', retries: 9 });

      await expect(publishing).rejects.toBeInstanceOf(QstashError);
      await expect(publishing).rejects.toMatchObject({
        status: 400,
        message: expect.stringContaining('Upstash-Retries'),
      });
    });

    it('answers unknown routes and wrong methods with JSON errors', async () => {
      const auth = { Authorization: `Bearer ${DEV_TOKEN}` };

      const unknown = await readAnswer(await fetch(`${server.url}/v2/nope`, { headers: auth }));
      const wrongMethod = await readAnswer(
        await fetch(`${server.url}/v2/publish/${refused.url}`, { headers: auth }),
      );

      expectErrorAnswer(unknown, 404, '/v2/nope');
      expectErrorAnswer(wrongMethod, 405, 'GET');
    });
  });

  it('still serves a valid publish afterwards, and delivered none of the refused ones', async () => {
    const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const url = `${refused.url}/valid`;

    const published = await client.publish({ url, body: 'finally valid' });

    const [request] = await refused.waitForRequests(1);
    expect(request!.body.toString()).toBe('finally valid');
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
    await expectNoMoreRequests(refused, 1);
  });
});
