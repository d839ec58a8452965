import { getEventListeners } from 'node:events';
import { NodeHttpDeliveryClient } from '../../../lambdas/adapters/http/node-http-delivery-client';
import type { DeliveryRequest } from '../../../lambdas/ports/delivery-client';
import { AttemptAbortedError, DeliveryAttemptError } from '../../../lambdas/ports/delivery-client';
import type { RawServer } from '../../helpers/misbehaving-servers';
import {
  closedPortUrl,
  startHangingServer,
  startRawServer,
} from '../../helpers/misbehaving-servers';
import { TestReceiver } from '../../helpers/receiver';

const ALLOW = { allowLoopback: true, allowPrivate: true };
/** A failed attempt saying exactly `message`. */
const attemptError = (message: string) =>
  expect.objectContaining({ name: DeliveryAttemptError.name, message });

/** The Lambda delivery function's client, against real servers on 127.0.0.1. */
describe('NodeHttpDeliveryClient', () => {
  let receiver: TestReceiver;
  let hanging: RawServer;
  let client: NodeHttpDeliveryClient;
  const send = (url: string, overrides: Partial<DeliveryRequest> = {}) =>
    client.send({
      url,
      method: 'POST',
      headers: {},
      body: new Uint8Array(),
      timeoutMs: 2_000,
      ...overrides,
    });

  beforeAll(async () => {
    receiver = await TestReceiver.start();
    hanging = await startHangingServer();
    client = new NodeHttpDeliveryClient({ maxResponseBodyBytes: 16, addressPolicy: ALLOW });
  });
  afterAll(async () => {
    await client.close();
    await receiver.stop();
    await hanging.stop();
  });

  it('sends the method, path, query, headers and body, and reads status, headers and body', async () => {
    receiver.respondWith(() => ({ status: 201, body: 'made', headers: { 'x-answer': 'yes' } }));

    const response = await send(`${receiver.url}/hooks/a?tenant=1`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'x-tenant': '1' },
      body: new TextEncoder().encode('payload'),
    });

    const request = receiver.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'PUT', path: '/hooks/a?tenant=1' });
    expect(request.headers).toMatchObject({ 'x-tenant': '1', 'content-length': '7' });
    expect(request.body.toString()).toBe('payload');
    expect(response.status).toBe(201);
    expect(response.headers['x-answer']).toEqual(['yes']);
    expect(Buffer.from(response.body).toString()).toBe('made');
  });

  it('keeps a repeated response header as its values, and cuts the body at the cap', async () => {
    const server = await startRawServer((socket) =>
      socket.end(
        'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Multi: one\r\nX-Multi: two\r\nContent-Length: 40\r\n\r\n0123456789012345678901234567890123456789',
      ),
    );
    try {
      const response = await send(`${server.url}/`);

      expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(response.headers['x-multi']).toEqual(['one', 'two']);
      expect(Buffer.from(response.body).toString()).toBe('0123456789012345');
    } finally {
      await server.stop();
    }
  });

  it('answers a redirect as it came, without following it', async () => {
    receiver.respondWith(() => ({ status: 302, headers: { location: `${receiver.url}/there` } }));
    const before = receiver.requests.length;

    const response = await send(`${receiver.url}/here`);

    expect(response.status).toBe(302);
    expect(receiver.requests.slice(before).map((request) => request.path)).toEqual(['/here']);
  });

  it('reuses a kept-alive connection for the next request', async () => {
    receiver.respondWith(() => ({ status: 200 }));
    const server = await startRawServer((socket) => {
      const answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      answer();
      socket.on('data', answer);
    });
    try {
      for (let i = 0; i < 3; i += 1) await send(`${server.url}/${i}`);

      expect(server.connections()).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('tells a timeout from a shutdown, and leaves nothing attached to the shutdown signal', async () => {
    const shutdown = new AbortController();

    const timedOut = send(`${hanging.url}/a`, { signal: shutdown.signal, timeoutMs: 100 });
    const aborted = send(`${hanging.url}/b`, { signal: shutdown.signal, timeoutMs: 5_000 });
    setTimeout(() => shutdown.abort(), 300);

    await expect(timedOut).rejects.toEqual(attemptError('timed out after 100ms (Upstash-Timeout)'));
    await expect(aborted).rejects.toBeInstanceOf(AttemptAbortedError);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('says what went wrong with a connection, in the words of the undici client', async () => {
    const reset = await startRawServer((socket) => socket.destroy());
    const garbage = await startRawServer((socket) => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    try {
      await expect(send(`${await closedPortUrl()}/`)).rejects.toEqual(
        attemptError('connection refused (ECONNREFUSED)'),
      );
      await expect(send(`${reset.url}/`)).rejects.toEqual(
        attemptError('connection reset before a complete response (ECONNRESET)'),
      );
      await expect(send(`${garbage.url}/`)).rejects.toThrow(/^invalid HTTP response: /);
    } finally {
      await reset.stop();
      await garbage.stop();
    }
  });

  it('reports a TLS failure: plain HTTP spoken to as HTTPS', async () => {
    await expect(send(receiver.url.replace('http://', 'https://'))).rejects.toEqual(
      attemptError('TLS error: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)'),
    );
  });

  it('refuses a destination the address policy forbids before connecting, by literal and by name', async () => {
    const strict = new NodeHttpDeliveryClient({
      maxResponseBodyBytes: 16,
      addressPolicy: { allowLoopback: false, allowPrivate: false },
    });
    const before = receiver.requests.length;
    const sendStrict = (url: string) =>
      strict.send({ url, method: 'POST', headers: {}, body: new Uint8Array(), timeoutMs: 2_000 });
    try {
      await expect(sendStrict(`${receiver.url}/literal`)).rejects.toEqual(
        attemptError('destination resolves to 127.0.0.1, a loopback address; refused by policy'),
      );
      await expect(
        sendStrict(`${receiver.url.replace('127.0.0.1', 'localhost')}/name`),
      ).rejects.toThrow(
        /^destination resolves to (127\.0\.0\.1|::1), a loopback address; refused by policy$/,
      );
      expect(receiver.requests.length).toBe(before);
    } finally {
      await strict.close();
    }
  });
});
