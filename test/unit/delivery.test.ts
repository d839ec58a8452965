import { jwtVerify } from 'jose';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { DeliveryDeps } from '../../lambdas/core/delivery';
import { attemptDelivery } from '../../lambdas/core/delivery';
import type { CallbackSpec, Message } from '../../lambdas/core/message';
import type { SigningKeys } from '../../lambdas/core/signing';
import type {
  DeliveryClient,
  DeliveryRequest,
  DeliveryResponse,
} from '../../lambdas/ports/delivery-client';
import { AttemptAbortedError, DeliveryAttemptError } from '../../lambdas/ports/delivery-client';
import { fixedClock, makeMessage, sequentialIds, T0 } from '../helpers/messages';

const CURRENT_KEY = 'sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const NEXT_KEY = 'sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';
/** How long each fake attempt takes, so start and end times differ in the events. */
const ATTEMPT_MS = 250;
const DONE_AT = T0 + ATTEMPT_MS;
/** The default backoff after the first attempt: e^2 s. */
const FIRST_BACKOFF_MS = 7_389;
const MAX_RETRIES = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Answer = DeliveryResponse | Error;

/** A DeliveryClient that records each request and answers from a script, taking ATTEMPT_MS. */
function fakeClient(answer: Answer, clock: ReturnType<typeof fixedClock>) {
  const requests: DeliveryRequest[] = [];
  const client: DeliveryClient = {
    async send(request) {
      requests.push(request);
      clock.advance(ATTEMPT_MS);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { client, requests };
}

function response(
  status: number,
  body = '',
  headers: Record<string, string[]> = {},
): DeliveryResponse {
  return { status, headers, body: encoder.encode(body) };
}

function setup(answer: Answer, keys: SigningKeys = { current: CURRENT_KEY, next: NEXT_KEY }) {
  const clock = fixedClock(T0);
  const { client, requests } = fakeClient(answer, clock);
  let signingKeys = keys;
  const deps: DeliveryDeps = {
    client,
    clock,
    ids: sequentialIds(),
    config: DEFAULT_CORE_CONFIG,
    signingKeys: () => signingKeys,
  };
  return {
    deps,
    requests,
    clock,
    rotateTo: (next: SigningKeys) => {
      signingKeys = next;
    },
  };
}

function payloadOf(callback: Message): Record<string, unknown> {
  return JSON.parse(decoder.decode(callback.body));
}

const SOURCE = makeMessage({
  messageId: 'msg_source',
  url: 'https://example.com/hook?x=1',
  header: { 'Content-Type': ['text/plain'], 'X-Tenant': ['acme'] },
  body: encoder.encode('source body'),
  maxRetries: MAX_RETRIES,
  retryDelayExpression: undefined,
  notBefore: T0 - 1_000,
  createdAt: T0 - 2_000,
  callerIp: '203.0.113.7',
  labels: ['billing'],
});
const CALLBACK: CallbackSpec = {
  url: 'https://example.com/callback',
  method: 'POST',
  header: { 'X-Callback-Secret': ['s'] },
};
const FAILURE_CALLBACK: CallbackSpec = {
  url: 'https://example.com/failed',
  method: 'PUT',
  header: {},
  retries: 1,
  timeoutMs: 5_000,
};

describe('attemptDelivery', () => {
  describe('when the destination answers 2xx', () => {
    it('returns delivered with ACTIVE and DELIVERED events', async () => {
      const { deps } = setup(response(204));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement).toEqual({
        message: SOURCE,
        retried: 0,
        outcome: { kind: 'delivered' },
        events: [
          { messageId: 'msg_source', url: SOURCE.url, time: T0, state: 'ACTIVE' },
          {
            messageId: 'msg_source',
            url: SOURCE.url,
            time: DONE_AT,
            state: 'DELIVERED',
            responseStatus: 204,
          },
        ],
        callbacks: [],
      });
    });
  });

  describe('when the destination fails with retries left', () => {
    it('returns a retry at the backoff time with ERROR and RETRY events', async () => {
      const { deps } = setup(response(500, 'boom', { 'content-type': ['text/plain'] }));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      const retryAt = DONE_AT + FIRST_BACKOFF_MS;
      expect(settlement.outcome).toEqual({ kind: 'retry', retryAt });
      expect(settlement.events).toEqual([
        { messageId: 'msg_source', url: SOURCE.url, time: T0, state: 'ACTIVE' },
        {
          messageId: 'msg_source',
          url: SOURCE.url,
          time: DONE_AT,
          state: 'ERROR',
          error: 'destination answered 500: boom',
          responseStatus: 500,
          responseHeader: { 'Content-Type': ['text/plain'] },
          responseBody: Buffer.from('boom').toString('base64'),
        },
        {
          messageId: 'msg_source',
          url: SOURCE.url,
          time: DONE_AT,
          state: 'RETRY',
          nextDeliveryTime: retryAt,
        },
      ]);
      expect(settlement.callbacks).toEqual([]);
    });

    it('returns a retry at the Retry-After time when the destination asks for one', async () => {
      const { deps } = setup(response(429, '', { 'retry-after': ['42'] }));

      const settlement = await attemptDelivery(deps, SOURCE, 1);

      expect(settlement.outcome).toEqual({ kind: 'retry', retryAt: DONE_AT + 42_000 });
    });

    it('returns a retry when a 3xx arrives, noting that redirects are not followed', async () => {
      const { deps } = setup(response(302, '', { location: ['https://elsewhere.example'] }));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.outcome.kind).toBe('retry');
      expect(settlement.events[1]?.error).toBe(
        'destination answered 302 (redirects are not followed)',
      );
    });

    it('cuts a long response body in the error text', async () => {
      const { deps } = setup(response(500, 'x'.repeat(500)));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.events[1]?.error).toBe(`destination answered 500: ${'x'.repeat(200)}…`);
    });
  });

  describe('when the last attempt fails', () => {
    it('returns failed with a dead letter and a FAILED event', async () => {
      const { deps } = setup(response(503, 'down', { 'x-request-id': ['r-1'] }));

      const settlement = await attemptDelivery(deps, SOURCE, MAX_RETRIES);

      const error = 'destination answered 503: down';
      expect(settlement.outcome).toEqual({
        kind: 'failed',
        deadLetter: {
          dlqId: `${DONE_AT}-0`,
          messageId: 'msg_source',
          failedAt: DONE_AT,
          responseStatus: 503,
          responseHeader: { 'X-Request-Id': ['r-1'] },
          responseBody: encoder.encode('down'),
          error,
        },
      });
      expect(settlement.events.map((event) => event.state)).toEqual(['ACTIVE', 'ERROR', 'FAILED']);
      expect(settlement.events[2]).toEqual({
        messageId: 'msg_source',
        url: SOURCE.url,
        time: DONE_AT,
        state: 'FAILED',
        error,
      });
    });

    it('returns failed at once when retries is 0', async () => {
      const { deps } = setup(response(500));

      const settlement = await attemptDelivery(deps, makeMessage({ maxRetries: 0 }), 0);

      expect(settlement.outcome.kind).toBe('failed');
    });
  });

  describe('status 489', () => {
    it('returns failed on the first attempt when Upstash-NonRetryable-Error is true', async () => {
      const { deps } = setup(response(489, 'stop', { 'upstash-nonretryable-error': ['true'] }));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.outcome).toMatchObject({
        kind: 'failed',
        deadLetter: { responseStatus: 489, error: 'destination answered 489: stop' },
      });
      expect(settlement.events.map((event) => event.state)).toEqual(['ACTIVE', 'ERROR', 'FAILED']);
    });

    it('returns a retry when the non-retryable header is missing', async () => {
      const { deps } = setup(response(489, 'stop'));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.outcome).toEqual({ kind: 'retry', retryAt: DONE_AT + FIRST_BACKOFF_MS });
    });

    it('returns a retry when the non-retryable header is not true', async () => {
      const { deps } = setup(response(489, '', { 'upstash-nonretryable-error': ['false'] }));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.outcome.kind).toBe('retry');
    });
  });

  describe('when no response arrives', () => {
    it('returns a retry with the transport error recorded and no response fields', async () => {
      const { deps } = setup(new DeliveryAttemptError('connect ECONNREFUSED 127.0.0.1:9'));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.outcome).toEqual({ kind: 'retry', retryAt: DONE_AT + FIRST_BACKOFF_MS });
      expect(settlement.events[1]).toEqual({
        messageId: 'msg_source',
        url: SOURCE.url,
        time: DONE_AT,
        state: 'ERROR',
        error: 'connect ECONNREFUSED 127.0.0.1:9',
      });
    });

    it('returns a dead letter with status 0 and the error on the last attempt', async () => {
      const { deps } = setup(new DeliveryAttemptError('timed out after 30s'));

      const settlement = await attemptDelivery(deps, SOURCE, MAX_RETRIES);

      expect(settlement.outcome).toEqual({
        kind: 'failed',
        deadLetter: {
          dlqId: `${DONE_AT}-0`,
          messageId: 'msg_source',
          failedAt: DONE_AT,
          responseStatus: 0,
          responseHeader: {},
          responseBody: new Uint8Array(),
          error: 'timed out after 30s',
        },
      });
    });

    it('records an unexpected client error as a failed attempt', async () => {
      const { deps } = setup(new TypeError('bad thing'));

      const settlement = await attemptDelivery(deps, SOURCE, 0);

      expect(settlement.events[1]?.error).toBe('delivery failed: TypeError: bad thing');
      expect(settlement.outcome.kind).toBe('retry');
    });

    it('throws AttemptAbortedError when the runtime aborted the attempt', async () => {
      const { deps } = setup(new AttemptAbortedError());

      await expect(attemptDelivery(deps, SOURCE, 0)).rejects.toBeInstanceOf(AttemptAbortedError);
    });
  });

  describe('callbacks', () => {
    const withCallbacks = makeMessage({
      ...SOURCE,
      callback: CALLBACK,
      failureCallback: FAILURE_CALLBACK,
    });

    it('returns a callback message reporting a delivered attempt', async () => {
      const { deps } = setup(response(200, 'ok', { 'content-type': ['text/plain'] }));

      const settlement = await attemptDelivery(deps, withCallbacks, 1);

      expect(settlement.callbacks).toHaveLength(1);
      const [callback] = settlement.callbacks as [Message];
      expect(callback).toEqual({
        messageId: 'msg_1',
        url: CALLBACK.url,
        method: 'POST',
        header: { 'Content-Type': ['application/json'], 'X-Callback-Secret': ['s'] },
        body: expect.any(Uint8Array),
        maxRetries: MAX_RETRIES,
        timeoutMs: DEFAULT_CORE_CONFIG.maxTimeoutMs,
        notBefore: DONE_AT,
        createdAt: DONE_AT,
        labels: ['billing'],
        callerIp: '203.0.113.7',
        callbackFor: { sourceMessageId: 'msg_source', kind: 'callback' },
      });
      expect(payloadOf(callback)).toEqual({
        status: 200,
        header: { 'Content-Type': ['text/plain'] },
        body: Buffer.from('ok').toString('base64'),
        retried: 1,
        maxRetries: MAX_RETRIES,
        sourceMessageId: 'msg_source',
        url: SOURCE.url,
        method: 'POST',
        sourceHeader: { 'Content-Type': ['text/plain'], 'X-Tenant': ['acme'] },
        sourceBody: Buffer.from('source body').toString('base64'),
        notBefore: SOURCE.notBefore,
        createdAt: SOURCE.createdAt,
        callerIP: '203.0.113.7',
      });
    });

    it('returns a callback but no failure callback for a failed attempt that will be retried', async () => {
      const { deps } = setup(response(500, 'boom'));

      const settlement = await attemptDelivery(deps, withCallbacks, 0);

      expect(settlement.outcome.kind).toBe('retry');
      expect(settlement.callbacks.map((message) => message.callbackFor?.kind)).toEqual([
        'callback',
      ]);
      expect(payloadOf(settlement.callbacks[0]!)).toMatchObject({
        status: 500,
        retried: 0,
        body: Buffer.from('boom').toString('base64'),
      });
      expect(payloadOf(settlement.callbacks[0]!).dlqId).toBeUndefined();
    });

    it('returns no callback when the attempt got no response', async () => {
      const message = makeMessage({ ...SOURCE, callback: CALLBACK });
      const { deps } = setup(new DeliveryAttemptError('refused'));

      const settlement = await attemptDelivery(deps, message, 0);

      expect(settlement.callbacks).toEqual([]);
    });

    it('returns both callbacks on the final failure, the failure one carrying the dlqId', async () => {
      const { deps } = setup(response(500, 'boom'));

      const settlement = await attemptDelivery(deps, withCallbacks, MAX_RETRIES);

      expect(settlement.outcome.kind).toBe('failed');
      const dlqId = settlement.outcome.kind === 'failed' && settlement.outcome.deadLetter.dlqId;
      expect(dlqId).toBe(`${DONE_AT}-0`);
      const [callback, failureCallback] = settlement.callbacks as [Message, Message];
      expect(callback.callbackFor).toEqual({ sourceMessageId: 'msg_source', kind: 'callback' });
      expect(payloadOf(callback).dlqId).toBeUndefined();
      expect(failureCallback).toMatchObject({
        messageId: 'msg_2',
        url: FAILURE_CALLBACK.url,
        method: 'PUT',
        header: { 'Content-Type': ['application/json'] },
        maxRetries: 1,
        timeoutMs: 5_000,
        callbackFor: { sourceMessageId: 'msg_source', kind: 'failure-callback' },
      });
      expect(payloadOf(failureCallback)).toMatchObject({
        status: 500,
        retried: MAX_RETRIES,
        maxRetries: MAX_RETRIES,
        dlqId,
        sourceMessageId: 'msg_source',
      });
    });

    it('returns a failure callback with status 0 when the final attempt got no response', async () => {
      const message = makeMessage({ ...SOURCE, failureCallback: FAILURE_CALLBACK });
      const { deps } = setup(new DeliveryAttemptError('refused'));

      const settlement = await attemptDelivery(deps, message, MAX_RETRIES);

      expect(settlement.callbacks).toHaveLength(1);
      expect(payloadOf(settlement.callbacks[0]!)).toMatchObject({
        status: 0,
        header: {},
        body: '',
        error: 'refused',
        dlqId: `${DONE_AT}-0`,
      });
    });

    it('returns a failure callback on a non-retryable 489 before retries run out', async () => {
      const message = makeMessage({ ...SOURCE, failureCallback: FAILURE_CALLBACK });
      const { deps } = setup(response(489, '', { 'upstash-nonretryable-error': ['TRUE'] }));

      const settlement = await attemptDelivery(deps, message, 0);

      expect(settlement.callbacks.map((callback) => callback.callbackFor?.kind)).toEqual([
        'failure-callback',
      ]);
    });

    it('inherits the source retry delay expression unless the callback sets its own', async () => {
      const message = makeMessage({
        ...SOURCE,
        retryDelayExpression: '1000',
        callback: CALLBACK,
        failureCallback: { ...FAILURE_CALLBACK, retryDelayExpression: '2000' },
      });
      const { deps } = setup(response(500));

      const settlement = await attemptDelivery(deps, message, MAX_RETRIES);

      expect(settlement.callbacks.map((callback) => callback.retryDelayExpression)).toEqual([
        '1000',
        '2000',
      ]);
    });
  });

  describe('the outgoing request', () => {
    it('carries the message, QStash headers and a signature for the URL', async () => {
      const message = makeMessage({
        ...SOURCE,
        method: 'PUT',
        header: {
          'Content-Type': ['text/plain'],
          'X-Tenant': ['a', 'b'],
          'Upstash-Message-Id': ['forged'],
          'User-Agent': ['forged'],
          'Upstash-Retried': ['99'],
          'Upstash-Topic-Name': ['forged'],
          'Upstash-Schedule-Id': ['forged'],
        },
        timeoutMs: 12_000,
      });
      const { deps, requests } = setup(response(200));
      const signal = new AbortController().signal;

      await attemptDelivery(deps, message, 2, signal);

      expect(requests).toHaveLength(1);
      const [request] = requests as [DeliveryRequest];
      expect(request).toEqual({
        url: SOURCE.url,
        method: 'PUT',
        headers: {
          'Content-Type': 'text/plain',
          'X-Tenant': 'a, b',
          'Upstash-Message-Id': 'msg_source',
          'User-Agent': 'Upstash-QStash',
          'Upstash-Retried': '2',
          'Upstash-Caller-Ip': '203.0.113.7',
          'Upstash-Signature': expect.any(String),
        },
        body: message.body,
        timeoutMs: 12_000,
        signal,
      });
      const { payload } = await jwtVerify(
        request.headers['Upstash-Signature']!,
        encoder.encode(CURRENT_KEY),
        { issuer: 'Upstash', currentDate: new Date(T0) },
      );
      expect(payload).toMatchObject({ sub: SOURCE.url, jti: 'jwt_1', iat: T0 / 1000 });
    });

    it('adds the schedule and topic headers when the message has them', async () => {
      const message = makeMessage({ scheduleId: 'scd_1', topicName: 'orders' });
      const { deps, requests } = setup(response(200));

      await attemptDelivery(deps, message, 0);

      expect(requests[0]?.headers).toMatchObject({
        'Upstash-Schedule-Id': 'scd_1',
        'Upstash-Topic-Name': 'orders',
      });
      expect(requests[0]?.headers['Upstash-Caller-Ip']).toBeUndefined();
    });

    it('signs with whatever key is current at the time of the attempt', async () => {
      const rotated = { current: NEXT_KEY, next: 'sig_newNextKey' };
      const { deps, requests, rotateTo } = setup(response(500));
      await attemptDelivery(deps, SOURCE, 0);

      rotateTo(rotated);
      await attemptDelivery(deps, SOURCE, 1);

      const options = { issuer: 'Upstash', currentDate: new Date(T0) };
      const [first, second] = requests.map((request) => request.headers['Upstash-Signature']!);
      await expect(jwtVerify(first!, encoder.encode(CURRENT_KEY), options)).resolves.toBeDefined();
      await expect(jwtVerify(second!, encoder.encode(NEXT_KEY), options)).resolves.toBeDefined();
      await expect(jwtVerify(second!, encoder.encode(CURRENT_KEY), options)).rejects.toThrow();
    });
  });
});
