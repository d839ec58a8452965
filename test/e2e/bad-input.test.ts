import { connect } from 'node:net';
import fc from 'fast-check';
import { MAX_HEADER_BYTES, MAX_HEADER_COUNT } from '../../lambdas/embedded/node-server';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import type { RawAnswer } from '../helpers/raw-api';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';

const AUTH = { Authorization: `Bearer ${DEV_TOKEN}` };
const MAX_BODY_BYTES = 1024;
const MAX_REQUEST_BYTES = 64 * 1024;

function expectError(answer: RawAnswer, status: number, fragment?: string): void {
  expect({ status: answer.status, contentType: answer.contentType }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/json/),
  });
  expect(answer.json).toEqual({ error: expect.any(String) });
  if (fragment) expect((answer.json as { error: string }).error).toContain(fragment);
}

/** Sends bytes as they are, for requests no HTTP client would send, and parses the answer. */
async function sendRaw(url: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /\r\ncontent-type: ([^\r]+)/i.exec(head)?.[1] ?? null;
  let json: unknown = body;
  try {
    json = JSON.parse(body);
  } catch {
    // left as text
  }
  return { status, contentType, json };
}

async function batch(server: TestServer, body: string): Promise<RawAnswer> {
  return readAnswer(
    await fetch(`${server.url}/v2/batch`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body,
    }),
  );
}

describe('bad input: every refusal a clear JSON 4xx, the server unharmed', () => {
  let server: TestServer;
  let receiver: TestReceiver;

  beforeAll(async () => {
    server = await startTestServer({
      SQSTASH_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      SQSTASH_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
    });
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it('answers any mix of Upstash-* headers with 200 or a 400 naming the problem, never a 5xx', async () => {
    const value = fc.oneof(
      fc.constantFrom('10s', '1d', '0', '5', '-1', 'true', 'GET', 'pow(2, retried)', '* * * * *'),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: fc.constantFrom(...'0123456789smhd retid()*,:/.-'), maxLength: 20 }),
    );
    const name = fc.constantFrom(
      'Upstash-Method',
      'Upstash-Delay',
      'Upstash-Not-Before',
      'Upstash-Retries',
      'Upstash-Retry-Delay',
      'Upstash-Timeout',
      'Upstash-Callback',
      'Upstash-Failure-Callback-Retries',
      'Upstash-Deduplication-Id',
      'Upstash-Content-Based-Deduplication',
      'Upstash-Label',
      'Upstash-Header-Forward',
      'Upstash-Forward-X-Test',
    );
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, value, { maxKeys: 4 }), async (headers) => {
        // fetch refuses to send what is not a header value; the HTTP parser is tested below.
        const sendable = Object.fromEntries(
          Object.entries(headers).map(([key, text]) => [key, text.replace(/[^\t\x20-\x7e]/g, '')]),
        );
        const answer = await publishRaw(server.url, `${receiver.url}/fuzz`, {
          headers: { ...sendable, 'Upstash-Delay': sendable['Upstash-Delay'] ?? '1d' },
          body: 'x',
        });
        statuses.add(answer.status);
        if (answer.status === 200) {
          expect(answer.json).toEqual(expect.objectContaining({ messageId: expect.any(String) }));
        } else if (answer.status === 202) {
          // A deduplication id (or content hash) an earlier run already published.
          expect(answer.json).toEqual(expect.objectContaining({ deduplicated: true }));
        } else {
          expectError(answer, 400);
        }
      }),
      { numRuns: 150 },
    );

    expect([...statuses]).toEqual(expect.arrayContaining([200, 400]));
    expect(server.logger.lines.filter((line) => line.includes('"request failed"'))).toEqual([]);
  });

  it('refuses a message body over the limit with 413, in a publish and in a batch element', async () => {
    const publish = await publishRaw(server.url, `${receiver.url}/big`, {
      body: 'x'.repeat(MAX_BODY_BYTES + 1),
    });
    const inBatch = await batch(
      server,
      JSON.stringify([
        { destination: `${receiver.url}/big`, body: 'x'.repeat(MAX_BODY_BYTES + 1) },
      ]),
    );

    expectError(publish, 413, String(MAX_BODY_BYTES));
    expect(inBatch.status).toBe(200);
    expect(inBatch.json).toEqual([{ error: expect.stringContaining(String(MAX_BODY_BYTES)) }]);
  });

  it('refuses a request body over the request limit with 413 before reading it all', async () => {
    const answer = await batch(server, `[${'"x",'.repeat(MAX_REQUEST_BYTES / 4)}"x"]`);

    expectError(answer, 413, String(MAX_REQUEST_BYTES));
  });

  it('refuses a malformed batch with 400: not JSON, not an array', async () => {
    expectError(await batch(server, '[{"destination": '), 400, 'not valid JSON');
    expectError(await batch(server, '{"destination": "x"}'), 400, 'not an array');
    expectError(await batch(server, '\u00ff\u00fe'), 400, 'not valid JSON');
  });

  it('answers each bad batch element in its slot and publishes the good ones', async () => {
    const answer = await batch(
      server,
      JSON.stringify([
        { destination: `${receiver.url}/ok`, body: 'fine', headers: { 'Upstash-Delay': '1d' } },
        { destination: 42 },
        { destination: `${receiver.url}/bad`, headers: { 'Upstash-Forward-X': 'price: 5 \u20ac' } },
        { destination: `${receiver.url}/bad`, headers: { 'Upstash-Retries': 7 } },
        'not an object',
      ]),
    );

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual([
      expect.objectContaining({ messageId: expect.any(String) }),
      { error: expect.stringContaining('"destination" is required') },
      { error: expect.stringContaining('characters past U+00FF') },
      { error: expect.stringContaining('must be a string') },
      { error: expect.stringContaining('invalid batch message') },
    ]);
  });

  it(`refuses more than ${MAX_HEADER_COUNT} header fields with a JSON 431`, async () => {
    const headers = Array.from({ length: MAX_HEADER_COUNT + 1 }, (_, i) => `x-h${i}: ${i}\r\n`);

    const answer = await sendRaw(
      server.url,
      `GET /v2/keys HTTP/1.1\r\nhost: x\r\n${headers.join('')}authorization: Bearer ${DEV_TOKEN}\r\n\r\n`,
    );

    expectError(answer, 431, `more than ${MAX_HEADER_COUNT} header fields`);
  });

  it(`refuses headers over ${MAX_HEADER_BYTES} bytes with a JSON 431`, async () => {
    const answer = await sendRaw(
      server.url,
      `GET /v2/keys HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`,
    );

    expectError(answer, 431, `larger than the ${MAX_HEADER_BYTES} bytes allowed`);
  });

  it.each([
    ['a request line that is not HTTP', 'HELLO\r\n\r\n'],
    [
      'a control character in a header value',
      'GET /v2/keys HTTP/1.1\r\nhost: x\r\nx-a: b\u0001c\r\n\r\n',
    ],
    ['a header line without a colon', 'GET /v2/keys HTTP/1.1\r\nhost: x\r\nnot a header\r\n\r\n'],
  ])('answers %s with a JSON 400', async (_what, request) => {
    const answer = await sendRaw(server.url, request);

    expectError(answer, 400, 'malformed HTTP request');
  });

  it('answers a request without the token with 401 on any method and path, and touches nothing', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'publish',
        'enqueue',
        'batch',
        'messages',
        'dlq',
        'retry',
        'events',
        'logs',
        'topics',
        'endpoints',
        'queues',
        'pause',
        'keys',
        'rotate',
        'schedules',
        'https:',
        '',
      ),
      fc.string({ unit: fc.constantFrom(...'abc019-_.%'), maxLength: 8 }),
    );
    const path = fc.array(segment, { maxLength: 4 }).map((segments) => `/v2/${segments.join('/')}`);
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE');
    // Only CREATED events: earlier fuzzed messages may still be delivered meanwhile, which logs
    // ACTIVE/DELIVERED events, but a refused request must never create a message.
    const created = `${server.url}/v2/events?state=CREATED&count=1000`;
    const eventsBefore = await readAnswer(await fetch(created, { headers: AUTH }));

    await fc.assert(
      fc.asyncProperty(method, path, fc.boolean(), async (verb, target, wrongToken) => {
        const answer = await readAnswer(
          await fetch(`${server.url}${target}`, {
            method: verb,
            headers: wrongToken ? { Authorization: `Bearer ${DEV_TOKEN.slice(1)}` } : {},
            body: verb === 'GET' ? undefined : '[]',
          }),
        );
        expectError(answer, 401);
      }),
      { numRuns: 200 },
    );

    const eventsAfter = await readAnswer(await fetch(created, { headers: AUTH }));
    expect(eventsAfter.json).toEqual(eventsBefore.json);
  });

  it('still publishes and delivers afterwards', async () => {
    const answer = await publishRaw(server.url, `${receiver.url}/after`, { body: 'still here' });

    expect(answer.status).toBe(200);
    await eventually(() =>
      expect(receiver.requests.find((request) => request.path === '/after')?.body.toString()).toBe(
        'still here',
      ),
    );
  });
});
