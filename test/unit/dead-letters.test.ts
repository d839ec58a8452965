import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { DeadLetterDeps } from '../../lambdas/core/dead-letters';
import {
  deleteDeadLetter,
  deleteDeadLetters,
  getDeadLetter,
  retryDeadLetters,
} from '../../lambdas/core/dead-letters';
import { BadRequestError, NotFoundError } from '../../lambdas/core/errors';
import type { IncomingHeaders } from '../../lambdas/core/headers';
import type { Message } from '../../lambdas/core/message';
import { parsePublishOptions } from '../../lambdas/core/publish-options';
import type { QueueStore } from '../../lambdas/ports/queue-store';
import { makeSqliteStores } from '../contract/sqlite-stores';
import { fixedClock, makeMessage, sequentialIds, T0 } from '../helpers/messages';
import { deadLetterOf, failedSettlement } from '../helpers/settlements';

const NOW = T0 + 60_000;
const encoder = new TextEncoder();

describe('core/dead-letters', () => {
  let stores: Awaited<ReturnType<typeof makeSqliteStores>>;
  let ensuredQueues: string[];
  let deps: DeadLetterDeps;

  const original = makeMessage({
    messageId: 'msg_dead',
    url: 'https://example.com/hook',
    method: 'PUT',
    header: { 'Content-Type': ['application/json'], 'X-Tenant': ['a'] },
    body: encoder.encode('{"order":42}'),
    maxRetries: 3,
    retryDelayExpression: '1000',
    timeoutMs: 30_000,
    labels: ['billing'],
    callerIp: '203.0.113.9',
    deduplicationId: 'order-42',
    failureCallback: { url: 'https://example.com/failed', method: 'POST', header: {} },
  });

  const bury = async (message: Message, dlqId: string) => {
    await stores.messages.insertMessage(message, undefined, T0);
    await stores.messages.settleAttempt(
      failedSettlement(message, deadLetterOf(message, dlqId, T0 + 1)),
    );
  };
  const retry = (dlqIds: string[], headers: IncomingHeaders = {}) =>
    retryDeadLetters(deps, { filter: { dlqIds }, count: 100, order: 'latestFirst' }, headers);
  const errorOf = async (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => e,
    );

  beforeEach(async () => {
    stores = await makeSqliteStores();
    ensuredQueues = [];
    const queues = {
      ensureQueue: async (name: string) => {
        ensuredQueues.push(name);
      },
    } as unknown as QueueStore;
    deps = {
      deadLetters: stores.deadLetters,
      queues,
      clock: fixedClock(NOW),
      ids: sequentialIds(),
      config: DEFAULT_CORE_CONFIG,
    };
    await bury(original, '1-0');
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  describe('retryDeadLetters', () => {
    it('publishes a new message with the same destination, body, headers and settings', async () => {
      const result = await retry(['1-0']);

      expect(result).toEqual({ messageIds: ['msg_1'] });
      const retried = await stores.messages.getPendingMessage('msg_1');
      const { deduplicationId: _, ...kept } = original;
      expect({ ...retried, body: Buffer.from(retried!.body).toString() }).toEqual({
        ...kept,
        messageId: 'msg_1',
        createdAt: NOW,
        notBefore: NOW,
        body: '{"order":42}',
      });
      expect(await stores.deadLetters.getDeadLetter('1-0')).toBeUndefined();
    });

    it("takes overrides from the retry request's own Upstash-* headers", async () => {
      await retry(['1-0'], {
        'upstash-retries': '0',
        'upstash-method': 'post',
        'upstash-timeout': '5s',
        'upstash-retry-delay': '50',
        'upstash-label': 'retried',
        'upstash-delay': '10s',
        'upstash-forward-x-tenant': 'b',
        'upstash-callback': 'https://example.com/cb',
        // An SDK's own Content-Type is not an override: the message keeps its own.
        'content-type': 'text/plain',
        authorization: 'Bearer secret',
      });

      const retried = (await stores.messages.getPendingMessage('msg_1'))!;
      expect(retried).toMatchObject({
        maxRetries: 0,
        method: 'POST',
        timeoutMs: 5_000,
        retryDelayExpression: '50',
        labels: ['retried'],
        notBefore: NOW + 10_000,
        header: { 'Content-Type': ['application/json'], 'X-Tenant': ['b'] },
        callback: { url: 'https://example.com/cb', method: 'POST' },
        failureCallback: original.failureCallback,
      });
      expect(retried.header).not.toHaveProperty('Authorization');
    });

    it('refuses a bad override with the same 400 as a publish, and changes nothing', async () => {
      const publishError = errorOf(
        Promise.resolve().then(() =>
          parsePublishOptions({ 'upstash-retries': 'lots' }, DEFAULT_CORE_CONFIG),
        ),
      );

      const error = await errorOf(retry(['1-0'], { 'upstash-retries': 'lots' }));

      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as Error).message).toBe(((await publishError) as Error).message);
      expect(await stores.deadLetters.getDeadLetter('1-0')).toBeDefined();
      expect(await stores.messages.getMessage('msg_1')).toBeUndefined();
    });

    it.each([
      [
        'upstash-deduplication-id',
        'abc',
        'Upstash-Deduplication-Id is not accepted on a DLQ retry',
      ],
      ['upstash-content-based-deduplication', 'true', 'Upstash-Content-Based-Deduplication'],
      ['upstash-cron', '* * * * *', 'Upstash-Cron is not accepted on a DLQ retry'],
    ])('refuses %s', async (name, value, fragment) => {
      const error = await errorOf(retry(['1-0'], { [name]: value }));

      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as Error).message).toContain(fragment);
    });

    it('retries several ids in the order asked, all or nothing', async () => {
      await bury(makeMessage({ messageId: 'msg_other', url: 'https://other.example/' }), '2-0');

      const missing = await errorOf(retry(['2-0', '1-0', '7-7']));
      expect(missing).toBeInstanceOf(NotFoundError);
      expect((missing as Error).message).toContain('"7-7"');
      expect(await stores.deadLetters.getDeadLetter('1-0')).toBeDefined();
      expect(await stores.messages.getMessage('msg_1')).toBeUndefined();

      const result = await retry(['2-0', '1-0', '2-0']);
      expect(result.messageIds).toEqual(['msg_1', 'msg_2']);
      expect((await stores.messages.getPendingMessage('msg_1'))?.url).toBe(
        'https://other.example/',
      );
      expect((await stores.messages.getPendingMessage('msg_2'))?.url).toBe(original.url);
    });

    it('is a 404 for an entry already retried', async () => {
      await retry(['1-0']);

      await expect(retry(['1-0'])).rejects.toBeInstanceOf(NotFoundError);
    });

    it('retries one batch by filter and hands back the cursor for the next', async () => {
      await bury(makeMessage({ messageId: 'msg_b' }), '2-0');
      await bury(makeMessage({ messageId: 'msg_c' }), '3-0');

      const first = await retryDeadLetters(
        deps,
        { filter: {}, count: 2, order: 'earliestFirst' },
        {},
      );
      const second = await retryDeadLetters(
        deps,
        { filter: {}, count: 2, order: 'earliestFirst', cursor: first.cursor },
        {},
      );

      expect(first.messageIds).toHaveLength(2);
      expect(first.cursor).toBeDefined();
      expect(second).toEqual({ messageIds: ['msg_3'] });
      expect(
        (await stores.deadLetters.listDeadLetters({ filter: {}, count: 10, order: 'latestFirst' }))
          .items,
      ).toEqual([]);
    });

    it('makes sure the queue of a queued message exists again', async () => {
      await bury(makeMessage({ messageId: 'msg_q', queueName: 'orders' }), '2-0');

      await retry(['2-0']);

      expect(ensuredQueues).toEqual(['orders']);
      expect((await stores.messages.getPendingMessage('msg_1'))?.queueName).toBe('orders');
    });
  });

  describe('get and delete', () => {
    it('gets an entry, and 404s an unknown one', async () => {
      expect((await getDeadLetter(deps, '1-0')).message.messageId).toBe('msg_dead');
      await expect(getDeadLetter(deps, '9-9')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('deletes an entry once; the second delete is a 404', async () => {
      await deleteDeadLetter(deps, '1-0');

      await expect(deleteDeadLetter(deps, '1-0')).rejects.toBeInstanceOf(NotFoundError);
      expect(await stores.deadLetters.getDeadLetter('1-0')).toBeUndefined();
      // The failed message stays in the log, with its configuration, until retention.
      const log = await stores.events.listEvents({
        filter: { messageIds: ['msg_dead'] },
        order: 'latestFirst',
        count: 10,
      });
      expect(log.items[0]).toMatchObject({
        event: { state: 'FAILED' },
        message: { messageId: 'msg_dead' },
      });
    });

    it('deletes nothing for an empty dlqIds list, and all named ids beyond count', async () => {
      await bury(makeMessage({ messageId: 'msg_b' }), '2-0');
      await bury(makeMessage({ messageId: 'msg_c' }), '3-0');

      expect(
        await deleteDeadLetters(deps, { filter: { dlqIds: [] }, count: 100, order: 'latestFirst' }),
      ).toEqual({ deleted: 0 });
      expect(
        await deleteDeadLetters(deps, {
          filter: { dlqIds: ['1-0', '2-0', '3-0'] },
          count: 1,
          order: 'latestFirst',
        }),
      ).toEqual({ deleted: 3 });
    });
  });
});
