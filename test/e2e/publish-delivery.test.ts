import { randomBytes } from 'node:crypto';
import { DEV_TOKEN, useSdkSuite } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import {
  devReceiver,
  expectDeliveryHeaders,
  expectSignedDelivery,
  rawHeaderNames,
} from '../helpers/signed-delivery';

describe('publish and delivery, through the official SDK', () => {
  const suite = useSdkSuite();
  const { startReceiver } = suite;

  it('delivers a publishJSON message: body, Content-Type, forwarded headers, QStash headers, signature', async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/orders/new?tenant=a&tag=x&tag=y`;
    const body = { order: 42, note: 'héllo ✓ 🎉' };

    const published = await suite.client.publishJSON({
      url,
      body,
      headers: {
        'x-tenant-id': 'acme',
        'My-Header': 'my-value',
        Authorization: 'Bearer downstream-secret',
      },
    });

    expect(published).toEqual({ messageId: expect.stringMatching(/^msg_/), url });
    const [request] = await receiver.waitForRequests(1);
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/orders/new?tenant=a&tag=x&tag=y');
    expect(request!.body.equals(Buffer.from(JSON.stringify(body)))).toBe(true);
    expect(request!.headers['content-type']).toBe('application/json');
    // The SDK sends these as Upstash-Forward-<lowercase name>; they arrive unprefixed.
    expect(request!.headers['x-tenant-id']).toBe('acme');
    expect(request!.headers['my-header']).toBe('my-value');
    // Upstash-Forward-Authorization reaches the destination; the QStash token never does.
    expect(request!.headers.authorization).toBe('Bearer downstream-secret');
    const names = rawHeaderNames(request!);
    expect(names).toEqual(
      expect.arrayContaining(['X-Tenant-Id', 'My-Header', 'Authorization', 'Content-Type']),
    );
    expect(names.filter((name) => /^upstash-(forward|telemetry|method)/i.test(name))).toEqual([]);
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('signs for the exact destination URL: the Receiver refuses it for any other URL', async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/exact?x=1`;

    await suite.client.publish({ url, body: 'subject check' });

    const [request] = await receiver.waitForRequests(1);
    await expectSignedDelivery(request!, url);
    const signature = String(request!.headers['upstash-signature']);
    await expect(
      devReceiver.verify({ signature, body: 'subject check', url: `${receiver.url}/exact` }),
    ).rejects.toThrow(/invalid subject/);
    await expect(devReceiver.verify({ signature, body: 'subject check!', url })).rejects.toThrow(
      /body hash does not match/,
    );
  });

  it('delivers a text body byte for byte with its own Content-Type', async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/text`;
    const text = 'line 1\r\nline 2 — naïve ✓ 🎉\n\ttabbed  ';

    const published = await suite.client.publish({
      url,
      body: text,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    });

    const [request] = await receiver.waitForRequests(1);
    expect(request!.body.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(request!.headers['content-type']).toBe('text/plain; charset=utf-8');
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('delivers a binary application/octet-stream body byte for byte (raw publish)', async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/blob`;
    const allByteValues = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
    const body = Buffer.concat([allByteValues, randomBytes(200_000), allByteValues]);

    const answer = await publishRaw(suite.server.url, url, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
    });

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ messageId: expect.stringMatching(/^msg_/), url });
    const [request] = await receiver.waitForRequests(1);
    expect(request!.body.byteLength).toBe(body.byteLength);
    expect(request!.body.equals(body)).toBe(true);
    expect(request!.headers['content-type']).toBe('application/octet-stream');
    expectDeliveryHeaders(request!, {
      messageId: (answer.json as { messageId: string }).messageId,
      retried: 0,
    });
    await expectSignedDelivery(request!, url);
  });

  it.each(['PUT', 'PATCH', 'DELETE'] as const)('delivers with method %s', async (method) => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/resource/7`;

    const published = await suite.client.publishJSON({ url, method, body: { method } });

    const [request] = await receiver.waitForRequests(1);
    expect(request!.method).toBe(method);
    expect(request!.body.toString()).toBe(JSON.stringify({ method }));
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('delivers a GET without a body or Content-Type', async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/poll?since=10`;

    const published = await suite.client.publish({ url, method: 'GET' });

    const [request] = await receiver.waitForRequests(1);
    expect(request!.method).toBe('GET');
    expect(request!.path).toBe('/poll?since=10');
    expect(request!.body.byteLength).toBe(0);
    expect(request!.headers['content-type']).toBeUndefined();
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('keeps the destination query but not qstash_token or upstash-* parameters, which configure the publish', async () => {
    const receiver = await startReceiver();
    const token = encodeURIComponent(DEV_TOKEN);

    const answer = await publishRaw(suite.server.url, `${receiver.url}/hook?keep=1&b=%20x`, {
      token: null,
      query: `qstash_token=${token}&upstash-method=PUT&Upstash-Forward-X-From-Query=yes&also=2`,
      body: 'from a webhook sender',
    });

    const expectedUrl = `${receiver.url}/hook?keep=1&b=%20x&also=2`;
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ messageId: expect.stringMatching(/^msg_/), url: expectedUrl });
    const [request] = await receiver.waitForRequests(1);
    expect(request!.path).toBe('/hook?keep=1&b=%20x&also=2');
    expect(request!.method).toBe('PUT');
    expect(request!.headers['x-from-query']).toBe('yes');
    expect(request!.body.toString()).toBe('from a webhook sender');
    await expectSignedDelivery(request!, expectedUrl);
  });

  it("delivers when an app forwards an incoming request's headers wholesale (hop-by-hop ones dropped)", async () => {
    const receiver = await startReceiver();
    const url = `${receiver.url}/relay`;
    const body = 'relayed';
    // What `headers: req.headers` of an incoming request looks like; the SDK prefixes them all.
    const incoming = {
      host: 'app.example.com',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'content-length': '999',
      'transfer-encoding': 'chunked',
      expect: '100-continue',
      upgrade: 'websocket',
      te: 'trailers',
      'x-request-id': 'req-1',
      'accept-language': 'en',
    };

    const published = await suite.client.publish({ url, body, headers: incoming, retries: 0 });

    const [request] = await receiver.waitForRequests(1);
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    expect(request!.headers.host).toBe(new URL(receiver.url).host);
    expect(request!.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(request!.body.toString()).toBe(body);
    expect(request!.headers['x-request-id']).toBe('req-1');
    expect(request!.headers['accept-language']).toBe('en');
    for (const name of ['keep-alive', 'transfer-encoding', 'expect', 'upgrade', 'te']) {
      expect(request!.headers[name]).toBeUndefined();
    }
    await expectSignedDelivery(request!, url);
  });

  it('delivers concurrent publishes each once, to its own destination, with its own id', async () => {
    const receiver = await startReceiver();
    const count = 20;

    const published = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        suite.client.publish({ url: `${receiver.url}/n/${i}`, body: `message ${i}` }),
      ),
    );

    const requests = await receiver.waitForRequests(count);
    expect(new Set(published.map((p) => p.messageId)).size).toBe(count);
    for (const request of requests) {
      const i = Number(request.path.split('/').pop());
      expect(request.body.toString()).toBe(`message ${i}`);
      expectDeliveryHeaders(request, { messageId: published[i]!.messageId, retried: 0 });
      await expectSignedDelivery(request, `${receiver.url}/n/${i}`);
    }
  });
});
