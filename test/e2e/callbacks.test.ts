import { useSdkSuite } from '../helpers/embedded-server';
import type { ReceivedRequest, Responder } from '../helpers/receiver';
import {
  base64,
  callbackBody,
  expectDeliveryHeaders,
  expectNoMoreRequests,
  expectSignedDelivery,
} from '../helpers/signed-delivery';

/** A callback request is a delivery of its own: signed for the callback URL, with its own id. */
async function expectCallbackRequest(
  request: ReceivedRequest,
  callbackUrl: string,
  sourceMessageId: string,
): Promise<Record<string, unknown>> {
  await expectSignedDelivery(request, callbackUrl);
  const messageId = String(request.headers['upstash-message-id']);
  expect(messageId).toMatch(/^msg_/);
  expect(messageId).not.toBe(sourceMessageId);
  expectDeliveryHeaders(request, { messageId, retried: 0 });
  expect(request.headers['content-type']).toBe('application/json');
  return callbackBody(request);
}

const NON_RETRYABLE: ReturnType<Responder> = {
  status: 489,
  headers: { 'Upstash-NonRetryable-Error': 'true' },
  body: 'rejected for good',
};

describe('callbacks and failure callbacks', () => {
  const suite = useSdkSuite();
  const { startReceiver } = suite;

  it('fires the callback after every attempt with the §5.2 payload; no failure callback on success', async () => {
    const destination = await startReceiver((_, index) =>
      index === 0
        ? { status: 500, headers: { 'X-Attempt': 'first' }, body: 'temporarily down' }
        : { status: 201, headers: { 'X-Attempt': 'second' }, body: '{"ok":true}' },
    );
    const callbacks = await startReceiver();
    const failures = await startReceiver();
    const url = `${destination.url}/work?job=7`;
    const callbackUrl = `${callbacks.url}/cb?kind=every`;
    const body = { job: 7 };
    const before = Date.now();

    const published = await suite.client.publishJSON({
      url,
      body,
      headers: { 'X-Trace': 't-1' },
      retries: 2,
      retryDelay: '50',
      callback: callbackUrl,
      failureCallback: `${failures.url}/failed`,
    });

    const after = Date.now();
    const requests = await callbacks.waitForRequests(2);
    const payloads: Record<string, unknown>[] = [];
    for (const request of requests) {
      payloads.push(await expectCallbackRequest(request, callbackUrl, published.messageId));
      expect(request.method).toBe('POST');
    }
    payloads.sort((a, b) => Number(a.retried) - Number(b.retried));
    const common = {
      maxRetries: 2,
      sourceMessageId: published.messageId,
      url,
      method: 'POST',
      sourceHeader: { 'Content-Type': ['application/json'], 'X-Trace': ['t-1'] },
      sourceBody: base64(JSON.stringify(body)),
      notBefore: expect.any(Number),
      createdAt: expect.any(Number),
    };
    expect(payloads[0]).toEqual(
      expect.objectContaining({
        ...common,
        status: 500,
        header: expect.objectContaining({ 'X-Attempt': ['first'] }),
        body: base64('temporarily down'),
        retried: 0,
      }),
    );
    expect(payloads[1]).toEqual(
      expect.objectContaining({
        ...common,
        status: 201,
        header: expect.objectContaining({ 'X-Attempt': ['second'] }),
        body: base64('{"ok":true}'),
        retried: 1,
      }),
    );
    for (const payload of payloads) {
      expect(payload).not.toHaveProperty('dlqId');
      // Unix milliseconds: the source was created during the publish call and due at once.
      expect(payload.createdAt).toBeGreaterThanOrEqual(before);
      expect(payload.createdAt).toBeLessThanOrEqual(after);
      expect(payload.notBefore).toBe(payload.createdAt);
    }
    // Each callback is a message of its own.
    expect(new Set(requests.map((r) => r.headers['upstash-message-id'])).size).toBe(2);
    expect(destination.requests).toHaveLength(2);
    await expectNoMoreRequests(failures, 0);
  });

  it('fires the failure callback exactly once, with a dlqId, when retries are exhausted', async () => {
    const destination = await startReceiver(() => ({ status: 500, body: 'nope' }));
    const failures = await startReceiver();
    const url = `${destination.url}/down`;
    const failureUrl = `${failures.url}/failed?source=down`;

    const published = await suite.client.publish({
      url,
      body: 'payload',
      method: 'PUT',
      retries: 1,
      retryDelay: '50',
      failureCallback: failureUrl,
    });

    const [request] = await failures.waitForRequests(1);
    const payload = await expectCallbackRequest(request!, failureUrl, published.messageId);
    expect(request!.method).toBe('POST');
    expect(payload).toEqual(
      expect.objectContaining({
        status: 500,
        body: base64('nope'),
        retried: 1,
        maxRetries: 1,
        dlqId: expect.stringMatching(/^\d+-\d+$/),
        sourceMessageId: published.messageId,
        url,
        method: 'PUT',
        sourceBody: base64('payload'),
      }),
    );
    expect(destination.requests).toHaveLength(2);
    await expectNoMoreRequests(failures, 1);
  });

  it('fires the failure callback once on a non-retryable 489', async () => {
    const destination = await startReceiver(() => NON_RETRYABLE);
    const failures = await startReceiver();

    const published = await suite.client.publish({
      url: destination.url,
      body: 'poison',
      retries: 3,
      retryDelay: '50',
      failureCallback: failures.url,
    });

    const [request] = await failures.waitForRequests(1);
    const payload = await expectCallbackRequest(request!, failures.url, published.messageId);
    expect(payload).toEqual(
      expect.objectContaining({
        status: 489,
        header: expect.objectContaining({ 'Upstash-Nonretryable-Error': ['true'] }),
        body: base64('rejected for good'),
        retried: 0,
        maxRetries: 3,
        dlqId: expect.stringMatching(/^\d+-\d+$/),
        sourceMessageId: published.messageId,
      }),
    );
    expect(destination.requests).toHaveLength(1);
    await expectNoMoreRequests(failures, 1);
  });

  it('sends Upstash-Callback-Forward-* to the callback and Upstash-Failure-Callback-Forward-* to the failure callback only', async () => {
    const destination = await startReceiver(() => NON_RETRYABLE);
    const callbacks = await startReceiver();
    const failures = await startReceiver();

    await suite.client.publish({
      url: destination.url,
      body: 'x',
      callback: callbacks.url,
      failureCallback: failures.url,
      headers: {
        'Upstash-Callback-Forward-X-Callback-Secret': 'cb-secret',
        'Upstash-Failure-Callback-Forward-X-Failure-Secret': 'fcb-secret',
      },
    });

    const [callback] = await callbacks.waitForRequests(1);
    const [failure] = await failures.waitForRequests(1);
    expect(callback!.headers['x-callback-secret']).toBe('cb-secret');
    expect(callback!.rawHeaders).toContain('X-Callback-Secret');
    expect(callback!.headers['x-failure-secret']).toBeUndefined();
    expect(failure!.headers['x-failure-secret']).toBe('fcb-secret');
    expect(failure!.rawHeaders).toContain('X-Failure-Secret');
    expect(failure!.headers['x-callback-secret']).toBeUndefined();
    const [delivery] = destination.requests;
    expect(delivery!.headers['x-callback-secret']).toBeUndefined();
    expect(delivery!.headers['x-failure-secret']).toBeUndefined();
    await expectSignedDelivery(callback!, callbacks.url);
    await expectSignedDelivery(failure!, failures.url);
  });

  it('sends the callback with Upstash-Callback-Method', async () => {
    const destination = await startReceiver(() => ({ status: 200, body: 'done' }));
    const callbacks = await startReceiver();
    const callbackUrl = `${callbacks.url}/put-here`;

    const published = await suite.client.publish({
      url: destination.url,
      body: 'x',
      callback: callbackUrl,
      headers: { 'Upstash-Callback-Method': 'PUT' },
    });

    const [request] = await callbacks.waitForRequests(1);
    expect(request!.method).toBe('PUT');
    const payload = await expectCallbackRequest(request!, callbackUrl, published.messageId);
    expect(payload).toEqual(
      expect.objectContaining({ status: 200, body: base64('done'), method: 'POST' }),
    );
  });

  it('retries a failing callback as a message of its own, with the source message retry settings', async () => {
    const destination = await startReceiver();
    const callbacks = await startReceiver((_, index) =>
      index === 0 ? { status: 503 } : { status: 200 },
    );
    const callbackUrl = `${callbacks.url}/flaky-cb`;

    const published = await suite.client.publish({
      url: destination.url,
      body: 'x',
      retries: 1,
      retryDelay: '50',
      callback: callbackUrl,
    });

    const requests = await callbacks.waitForRequests(2);
    const callbackId = String(requests[0]!.headers['upstash-message-id']);
    expect(callbackId).not.toBe(published.messageId);
    expectDeliveryHeaders(requests[0]!, { messageId: callbackId, retried: 0 });
    expectDeliveryHeaders(requests[1]!, { messageId: callbackId, retried: 1 });
    for (const request of requests) await expectSignedDelivery(request, callbackUrl);
    expect(requests[1]!.body.equals(requests[0]!.body)).toBe(true);
    expect(destination.requests).toHaveLength(1);
  });
});
