import type { DeadLetter, LogEvent, Message } from '../../lambdas/core/message';
import type { AttemptSettlement, MessageStore } from '../../lambdas/ports/message-store';
import { makeMessage, T0 } from '../helpers/messages';

export type StoreUnderTest = { store: MessageStore; cleanup(): Promise<void> };

const DEDUP_WINDOW_MS = 60_000;
const encoder = new TextEncoder();

/** Bodies compared as plain byte arrays, since adapters may hand back a Buffer or a Uint8Array. */
function comparable(message: Message | undefined) {
  return message && { ...message, body: Array.from(message.body) };
}

/** Every optional field of a message set, so a store that drops one is caught. */
function fullMessage(messageId: string): Message {
  return makeMessage({
    messageId,
    url: 'https://example.com/hook?tenant=a&x=%20y',
    method: 'PATCH',
    header: { 'Content-Type': ['application/json'], 'X-Multi': ['a', 'b'] },
    body: encoder.encode('{"hello":"wörld"}'),
    maxRetries: 5,
    retryDelayExpression: 'pow(2, retried) * 1000',
    timeoutMs: 12_000,
    notBefore: T0 + 5_000,
    createdAt: T0,
    callback: {
      url: 'https://example.com/callback',
      method: 'PUT',
      header: { 'X-Callback-Secret': ['s'] },
      retries: 1,
      retryDelayExpression: '500',
      timeoutMs: 3_000,
    },
    failureCallback: { url: 'https://example.com/failed', method: 'POST', header: {} },
    labels: ['billing', 'eu'],
    callerIp: '203.0.113.7',
    deduplicationId: 'order-42',
    topicName: 'orders',
    endpointName: 'primary',
    queueName: 'fifo',
    scheduleId: 'scd_1',
    callbackFor: { sourceMessageId: 'msg_source', kind: 'failure-callback' },
  });
}

function events(message: Message, ...states: LogEvent['state'][]): LogEvent[] {
  return states.map((state, index) => ({
    time: T0 + index,
    messageId: message.messageId,
    state,
    url: message.url,
  }));
}

function callbackOf(source: Message, messageId: string): Message {
  return makeMessage({
    messageId,
    url: 'https://example.com/callback',
    body: encoder.encode(JSON.stringify({ sourceMessageId: source.messageId, status: 500 })),
    notBefore: T0 + 100,
    createdAt: T0 + 100,
    callbackFor: { sourceMessageId: source.messageId, kind: 'callback' },
  });
}

/**
 * The behaviour every MessageStore adapter must share, run against each one by its own test file
 * (`sqlite-message-store.test.ts`, later a DynamoDB one). Only the port is used here; what an
 * adapter does beyond it (leases, due-time queries) is tested next to the adapter.
 */
export function describeMessageStoreContract(
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
): void {
  describe(`${name} (MessageStore contract)`, () => {
    let subject: StoreUnderTest;
    let store: MessageStore;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    describe('insertMessage and getMessage', () => {
      it('returns inserted: true and the same message back', async () => {
        const message = makeMessage({ messageId: 'msg_plain' });

        const result = await store.insertMessage(message, undefined, T0);

        expect(result).toEqual({ inserted: true });
        expect(comparable(await store.getMessage('msg_plain'))).toEqual(comparable(message));
      });

      it('returns every optional field as stored', async () => {
        const message = fullMessage('msg_full');

        await store.insertMessage(message, undefined, T0);

        expect(comparable(await store.getMessage('msg_full'))).toEqual(comparable(message));
      });

      it('returns a binary body byte for byte', async () => {
        const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
        const message = makeMessage({ messageId: 'msg_binary', body: everyByte });

        await store.insertMessage(message, undefined, T0);

        const stored = await store.getMessage('msg_binary');
        expect(Array.from(stored!.body)).toEqual(Array.from(everyByte));
      });

      it('returns an empty body as empty', async () => {
        await store.insertMessage(
          makeMessage({ messageId: 'msg_empty', body: new Uint8Array() }),
          undefined,
          T0,
        );

        expect((await store.getMessage('msg_empty'))?.body.byteLength).toBe(0);
      });

      it('returns undefined for an unknown id', async () => {
        expect(await store.getMessage('msg_missing')).toBeUndefined();
      });

      it('keeps messages apart', async () => {
        await store.insertMessage(
          makeMessage({ messageId: 'msg_a', url: 'https://a.example/' }),
          undefined,
          T0,
        );
        await store.insertMessage(
          makeMessage({ messageId: 'msg_b', url: 'https://b.example/' }),
          undefined,
          T0,
        );

        expect((await store.getMessage('msg_a'))?.url).toBe('https://a.example/');
        expect((await store.getMessage('msg_b'))?.url).toBe('https://b.example/');
      });
    });

    describe('insertMessages (a fan-out)', () => {
      it('stores every message, answering in order, each dedup claim decided on its own', async () => {
        const claim = (key: string) => ({ key, expiresAt: T0 + DEDUP_WINDOW_MS });
        await store.insertMessage(makeMessage({ messageId: 'msg_held' }), claim('id:b'), T0);

        const results = await store.insertMessages(
          [
            {
              message: makeMessage({ messageId: 'msg_a', url: 'https://a.example/' }),
              dedup: claim('id:a'),
            },
            {
              message: makeMessage({ messageId: 'msg_b', url: 'https://b.example/' }),
              dedup: claim('id:b'),
            },
            { message: makeMessage({ messageId: 'msg_c', url: 'https://c.example/' }) },
          ],
          T0 + 1,
        );

        expect(results).toEqual([
          { inserted: true },
          { inserted: false, existingMessageId: 'msg_held' },
          { inserted: true },
        ]);
        expect((await store.getMessage('msg_a'))?.url).toBe('https://a.example/');
        expect(await store.getMessage('msg_b')).toBeUndefined();
        expect((await store.getMessage('msg_c'))?.url).toBe('https://c.example/');
      });
    });

    describe('dedup claims', () => {
      const claim = { key: 'id:order-42', expiresAt: T0 + DEDUP_WINDOW_MS };

      it('returns the holder and writes nothing when an unexpired claim holds the key', async () => {
        await store.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);

        const result = await store.insertMessage(
          makeMessage({ messageId: 'msg_second' }),
          { ...claim, expiresAt: T0 + 10 + DEDUP_WINDOW_MS },
          T0 + 10,
        );

        expect(result).toEqual({ inserted: false, existingMessageId: 'msg_first' });
        expect(await store.getMessage('msg_second')).toBeUndefined();
      });

      it('still holds the key one millisecond before it expires', async () => {
        await store.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);

        const result = await store.insertMessage(
          makeMessage({ messageId: 'msg_second' }),
          claim,
          claim.expiresAt - 1,
        );

        expect(result).toEqual({ inserted: false, existingMessageId: 'msg_first' });
      });

      it('inserts when the claim has expired, and the new message then holds the key', async () => {
        await store.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);
        const later = claim.expiresAt;
        const renewed = { key: claim.key, expiresAt: later + DEDUP_WINDOW_MS };

        const second = await store.insertMessage(
          makeMessage({ messageId: 'msg_second' }),
          renewed,
          later,
        );
        const third = await store.insertMessage(
          makeMessage({ messageId: 'msg_third' }),
          renewed,
          later + 1,
        );

        expect(second).toEqual({ inserted: true });
        expect(third).toEqual({ inserted: false, existingMessageId: 'msg_second' });
        expect(await store.getMessage('msg_second')).toBeDefined();
        expect(await store.getMessage('msg_third')).toBeUndefined();
      });

      it('inserts under different keys independently', async () => {
        await store.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);

        const result = await store.insertMessage(
          makeMessage({ messageId: 'msg_other' }),
          { ...claim, key: 'id:order-43' },
          T0,
        );

        expect(result).toEqual({ inserted: true });
      });

      it('inserts without a claim whatever keys are held', async () => {
        await store.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);

        const result = await store.insertMessage(
          makeMessage({ messageId: 'msg_free' }),
          undefined,
          T0,
        );

        expect(result).toEqual({ inserted: true });
      });

      it('keeps a claim after the holder was delivered', async () => {
        const holder = makeMessage({ messageId: 'msg_first' });
        await store.insertMessage(holder, claim, T0);
        await store.settleAttempt({
          message: holder,
          retried: 0,
          outcome: { kind: 'delivered' },
          events: events(holder, 'ACTIVE', 'DELIVERED'),
          callbacks: [],
        });

        const result = await store.insertMessage(
          makeMessage({ messageId: 'msg_second' }),
          claim,
          T0 + 1,
        );

        expect(result).toEqual({ inserted: false, existingMessageId: 'msg_first' });
      });
    });

    describe('settleAttempt', () => {
      const source = makeMessage({ messageId: 'msg_source' });
      const deadLetter: DeadLetter = {
        dlqId: `${T0}-0`,
        messageId: 'msg_source',
        failedAt: T0 + 2,
        responseStatus: 500,
        responseHeader: { 'Content-Type': ['text/plain'] },
        responseBody: encoder.encode('boom'),
        error: 'destination answered 500: boom',
      };

      beforeEach(async () => {
        await store.insertMessage(source, undefined, T0);
      });

      it('removes a delivered message, as QStash no longer lists it', async () => {
        await store.settleAttempt({
          message: source,
          retried: 0,
          outcome: { kind: 'delivered' },
          events: events(source, 'ACTIVE', 'DELIVERED'),
          callbacks: [],
        });

        expect(await store.getMessage('msg_source')).toBeUndefined();
      });

      it('keeps a message scheduled for a retry unchanged', async () => {
        await store.settleAttempt({
          message: source,
          retried: 0,
          outcome: { kind: 'retry', retryAt: T0 + 7_389 },
          events: events(source, 'ACTIVE', 'ERROR', 'RETRY'),
          callbacks: [],
        });

        expect(comparable(await store.getMessage('msg_source'))).toEqual(comparable(source));
      });

      it('keeps a failed message, which its dead letter refers to', async () => {
        await store.settleAttempt({
          message: source,
          retried: 3,
          outcome: { kind: 'failed', deadLetter },
          events: events(source, 'ACTIVE', 'ERROR', 'FAILED'),
          callbacks: [],
        });

        expect(comparable(await store.getMessage('msg_source'))).toEqual(comparable(source));
      });

      it.each<[string, AttemptSettlement['outcome']]>([
        ['delivered', { kind: 'delivered' }],
        ['retry', { kind: 'retry', retryAt: T0 + 7_389 }],
        ['failed', { kind: 'failed', deadLetter }],
      ])('stores the callback messages of a %s settlement', async (_, outcome) => {
        const callback = callbackOf(source, 'msg_callback');
        const failureCallback: Message = {
          ...callbackOf(source, 'msg_failure_callback'),
          callbackFor: { sourceMessageId: 'msg_source', kind: 'failure-callback' },
        };

        await store.settleAttempt({
          message: source,
          retried: 0,
          outcome,
          events: events(source, 'ACTIVE', 'ERROR'),
          callbacks: [callback, failureCallback],
        });

        expect(comparable(await store.getMessage('msg_callback'))).toEqual(comparable(callback));
        expect(comparable(await store.getMessage('msg_failure_callback'))).toEqual(
          comparable(failureCallback),
        );
      });
    });
  });
}
