import { useSdkSuite } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import type { ReceivedRequest, Responder } from '../helpers/receiver';
import {
  expectDeliveryHeaders,
  expectNoMoreRequests,
  expectSignedDelivery,
} from '../helpers/signed-delivery';

function gaps(requests: readonly ReceivedRequest[]): number[] {
  return requests.slice(1).map((request, i) => request.receivedAt - requests[i]!.receivedAt);
}

/** Fails the first `failures` attempts with `failure`, then answers 200. */
function failThenSucceed(failures: number, failure: ReturnType<Responder>): Responder {
  return (_, index) => (index < failures ? failure : { status: 200, body: 'ok' });
}

describe('retries: Upstash-Retries, Upstash-Retry-Delay, Retry-After, 489, redirects, timeouts', () => {
  const suite = useSdkSuite();
  const { startReceiver } = suite;

  it('retries until a 2xx, counting Upstash-Retried 0, 1, 2 and spacing attempts by the expression', async () => {
    const receiver = await startReceiver(failThenSucceed(2, { status: 500, body: 'down' }));
    const url = `${receiver.url}/flaky`;

    const published = await suite.client.publish({
      url,
      body: 'try me',
      retries: 3,
      retryDelay: '100 * (1 + retried)',
    });

    const requests = await receiver.waitForRequests(3);
    requests.forEach((request, retried) => {
      expectDeliveryHeaders(request, { messageId: published.messageId, retried });
      expect(request.body.toString()).toBe('try me');
    });
    for (const request of requests) await expectSignedDelivery(request, url);
    // After retried=0 fails the expression gives 100 ms, after retried=1 it gives 200 ms.
    const [first, second] = gaps(requests);
    expect(first).toBeGreaterThanOrEqual(100);
    expect(second).toBeGreaterThanOrEqual(200);
    // Delivered on the third attempt: no fourth (the next retry would have come after 300 ms).
    await expectNoMoreRequests(receiver, 3, 600);
  });

  it('makes exactly 1 + retries attempts when every attempt fails, then fires the failure callback', async () => {
    const receiver = await startReceiver(() => ({ status: 503, body: 'still down' }));
    const failures = await startReceiver();
    const url = `${receiver.url}/always-down`;

    const published = await suite.client.publish({
      url,
      body: 'doomed',
      retries: 2,
      retryDelay: '50',
      failureCallback: `${failures.url}/failed`,
    });

    // The failure callback is created when the message fails for good: no attempt can follow it.
    await failures.waitForRequests(1);
    expect(receiver.requests).toHaveLength(3);
    receiver.requests.forEach((request, retried) => {
      expectDeliveryHeaders(request, { messageId: published.messageId, retried });
    });
    for (const request of receiver.requests) await expectSignedDelivery(request, url);
    for (const gap of gaps(receiver.requests)) expect(gap).toBeGreaterThanOrEqual(50);
  });

  it('takes retries from the query string (upstash-retries=0): one attempt only', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }));
    const failures = await startReceiver();

    const answer = await publishRaw(suite.server.url, `${receiver.url}/once`, {
      query: 'upstash-retries=0',
      headers: { 'Upstash-Failure-Callback': failures.url },
      body: 'x',
    });

    expect(answer.status).toBe(200);
    await failures.waitForRequests(1);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.path).toBe('/once');
    expect(receiver.requests[0]!.headers['upstash-retried']).toBe('0');
  });

  it('waits for Retry-After: 1 from a failed response instead of the retry-delay expression', async () => {
    const receiver = await startReceiver(
      failThenSucceed(1, { status: 503, headers: { 'Retry-After': '1' } }),
    );
    const url = `${receiver.url}/busy`;

    const published = await suite.client.publish({ url, body: 'b', retries: 2, retryDelay: '50' });

    const requests = await receiver.waitForRequests(2, 5_000);
    expect(gaps(requests)[0]).toBeGreaterThanOrEqual(950);
    expectDeliveryHeaders(requests[1]!, { messageId: published.messageId, retried: 1 });
    await expectSignedDelivery(requests[1]!, url);
  });

  it('stops after one attempt on 489 with Upstash-NonRetryable-Error: true', async () => {
    const receiver = await startReceiver(() => ({
      status: 489,
      headers: { 'Upstash-NonRetryable-Error': 'true' },
      body: 'bad payload, do not retry',
    }));
    const failures = await startReceiver();

    const published = await suite.client.publish({
      url: `${receiver.url}/reject`,
      body: 'poison',
      retries: 3,
      retryDelay: '50',
      failureCallback: failures.url,
    });

    await failures.waitForRequests(1);
    expect(receiver.requests).toHaveLength(1);
    expectDeliveryHeaders(receiver.requests[0]!, { messageId: published.messageId, retried: 0 });
  });

  it('retries a 489 without Upstash-NonRetryable-Error like any failure', async () => {
    const receiver = await startReceiver(failThenSucceed(1, { status: 489, body: 'not final' }));
    const url = `${receiver.url}/489`;

    const published = await suite.client.publish({ url, body: 'x', retries: 2, retryDelay: '50' });

    const requests = await receiver.waitForRequests(2);
    expectDeliveryHeaders(requests[1]!, { messageId: published.messageId, retried: 1 });
    await expectSignedDelivery(requests[1]!, url);
  });

  it('treats a 3xx as a failed attempt and does not follow the redirect', async () => {
    const target = await startReceiver();
    const receiver = await startReceiver(
      failThenSucceed(1, { status: 302, headers: { Location: `${target.url}/moved` } }),
    );
    const url = `${receiver.url}/old`;

    const published = await suite.client.publish({ url, body: 'x', retries: 2, retryDelay: '50' });

    const requests = await receiver.waitForRequests(2);
    expect(requests.map((request) => request.path)).toEqual(['/old', '/old']);
    expectDeliveryHeaders(requests[1]!, { messageId: published.messageId, retried: 1 });
    expect(target.requests).toHaveLength(0);
  });

  it('counts an attempt that outlives timeout: "1s" as failed and retries it', async () => {
    const receiver = await startReceiver((_, index) =>
      index === 0 ? { status: 200, delayMs: 3_000 } : { status: 200 },
    );
    const url = `${receiver.url}/slow`;

    const published = await suite.client.publish({
      url,
      body: 'x',
      timeout: '1s',
      retries: 1,
      retryDelay: '100',
    });

    const requests = await receiver.waitForRequests(2, 5_000);
    // Cut off at 1 s, then 100 ms of retry delay. Without the timeout the slow 200 would be a success.
    expect(gaps(requests)[0]).toBeGreaterThanOrEqual(1_000);
    expectDeliveryHeaders(requests[1]!, { messageId: published.messageId, retried: 1 });
    await expectSignedDelivery(requests[1]!, url);
  });

  it('applies a raw Upstash-Timeout header the same way, failing for good when no retry is left', async () => {
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 3_000 }));
    const failures = await startReceiver();

    const answer = await publishRaw(suite.server.url, `${receiver.url}/too-slow`, {
      headers: {
        'Upstash-Timeout': '1s',
        'Upstash-Retries': '0',
        'Upstash-Failure-Callback': failures.url,
      },
      body: 'x',
    });

    expect(answer.status).toBe(200);
    const [failure] = await failures.waitForRequests(1, 5_000);
    expect(receiver.requests).toHaveLength(1);
    // Without the timeout the slow 200 would count as delivered and no failure callback would come.
    // The 1 s timer starts just before the destination records the request, hence the slack.
    expect(failure!.receivedAt - receiver.requests[0]!.receivedAt).toBeGreaterThanOrEqual(900);
  });
});
