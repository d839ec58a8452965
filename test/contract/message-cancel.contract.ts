import type { MessageState } from '../../lambdas/core/message';
import type { MessageFilter } from '../../lambdas/ports/listing';
import type { MessageStore } from '../../lambdas/ports/message-store';
import { makeMessage, T0 } from '../helpers/messages';
import {
  callbackMessage,
  comparable,
  deadLetterOf,
  deliveredSettlement,
  failedSettlement,
  retrySettlement,
} from '../helpers/settlements';
import type { MakeStores, StoresUnderTest } from './stores-under-test';

const NOW = T0 + 10_000;
/**
 * Due after NOW: a message waiting for its attempt beyond doubt. A message already due may be
 * under way in a store that keeps no lease (AWS), which cancels it as it would one in flight.
 */
const LATER = NOW + 3_600_000;

/**
 * MessageStore's pending-message reads and cancels, with how a cancel meets an attempt in flight
 * (the settlement or the release that follows it). Run by each adapter's test file.
 */
export function describeMessageCancelContract(name: string, makeStores: MakeStores): void {
  describe(`${name} (MessageStore contract: pending messages and cancel)`, () => {
    let stores: StoresUnderTest;
    let messages: MessageStore;

    beforeEach(async () => {
      stores = await makeStores();
      messages = stores.messages;
    });
    afterEach(async () => {
      await stores.cleanup();
    });

    const statesOf = async (messageId: string): Promise<MessageState[]> => {
      const page = await stores.events.listEvents({
        filter: { messageIds: [messageId] },
        count: 1000,
        order: 'earliestFirst',
      });
      return page.items.map((record) => record.event.state);
    };
    const insert = async (...overrides: Parameters<typeof makeMessage>[0][]) => {
      for (const override of overrides)
        await messages.insertMessage(makeMessage(override), undefined, T0);
    };
    const pendingIds = async (ids: string[]) => {
      const pending: string[] = [];
      for (const id of ids) if (await messages.getPendingMessage(id)) pending.push(id);
      return pending;
    };

    describe('getPendingMessage', () => {
      it('returns a message waiting for its attempt, as stored', async () => {
        const message = makeMessage({ messageId: 'msg_a', labels: ['x'], callerIp: '10.0.0.1' });
        await messages.insertMessage(message, undefined, T0);

        expect(comparable(await messages.getPendingMessage('msg_a'))).toEqual(comparable(message));
      });

      it('returns a message whose attempt is in flight, and one scheduled for a retry', async () => {
        await insert({ messageId: 'msg_flight' }, { messageId: 'msg_retry' });
        await stores.startAttempt('msg_flight', T0);
        await messages.settleAttempt(retrySettlement(makeMessage({ messageId: 'msg_retry' })));

        expect(await pendingIds(['msg_flight', 'msg_retry'])).toEqual(['msg_flight', 'msg_retry']);
      });

      it('returns undefined for an unknown, a delivered and a failed message', async () => {
        const delivered = makeMessage({ messageId: 'msg_delivered' });
        const failed = makeMessage({ messageId: 'msg_failed' });
        await insert({ messageId: 'msg_delivered' }, { messageId: 'msg_failed' });
        await messages.settleAttempt(deliveredSettlement(delivered));
        await messages.settleAttempt(failedSettlement(failed, deadLetterOf(failed, '1-0', T0 + 1)));

        expect(await pendingIds(['msg_unknown', 'msg_delivered', 'msg_failed'])).toEqual([]);
        // The failed message itself is still stored, for its dead letter.
        expect(await messages.getMessage('msg_failed')).toBeDefined();
      });
    });

    describe('cancelMessages on waiting messages', () => {
      it('removes the message with CANCEL_REQUESTED and CANCELED events, and counts it', async () => {
        await insert({ messageId: 'msg_a', notBefore: LATER }, { messageId: 'msg_b' });

        const cancelled = await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);

        expect(cancelled).toBe(1);
        expect(await messages.getPendingMessage('msg_a')).toBeUndefined();
        expect(await messages.getMessage('msg_a')).toBeUndefined();
        expect(await messages.getPendingMessage('msg_b')).toBeDefined();
        expect(await statesOf('msg_a')).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
        const log = await stores.events.listEvents({
          filter: { messageIds: ['msg_a'], states: ['CANCELED'] },
          count: 10,
          order: 'latestFirst',
        });
        expect(log.items.map(({ event }) => [event.time, event.url])).toEqual([
          [NOW, 'https://example.com/hook'],
        ]);
      });

      it('counts nothing for unknown, already canceled, delivered and failed messages', async () => {
        const delivered = makeMessage({ messageId: 'msg_delivered' });
        const failed = makeMessage({ messageId: 'msg_failed' });
        await insert(
          { messageId: 'msg_a', notBefore: LATER },
          { messageId: 'msg_delivered' },
          { messageId: 'msg_failed' },
        );
        await messages.settleAttempt(deliveredSettlement(delivered));
        await messages.settleAttempt(failedSettlement(failed, deadLetterOf(failed, '1-0', T0 + 1)));
        await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);

        const cancelled = await messages.cancelMessages(
          { messageIds: ['msg_unknown', 'msg_a', 'msg_delivered', 'msg_failed'] },
          NOW + 1,
        );

        expect(cancelled).toBe(0);
        expect(await statesOf('msg_a')).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
        expect(await statesOf('msg_failed')).toEqual(['CREATED', 'ACTIVE', 'ERROR', 'FAILED']);
        expect(await stores.deadLetters.getDeadLetter('1-0')).toBeDefined();
      });

      it('cancels every pending message, and only those, with an empty filter', async () => {
        const failed = makeMessage({ messageId: 'msg_failed' });
        await insert({ messageId: 'msg_a' }, { messageId: 'msg_b' }, { messageId: 'msg_failed' });
        await messages.settleAttempt(failedSettlement(failed, deadLetterOf(failed, '1-0', T0 + 1)));

        expect(await messages.cancelMessages({}, NOW)).toBe(2);
        expect(await pendingIds(['msg_a', 'msg_b'])).toEqual([]);
        expect(await stores.deadLetters.getDeadLetter('1-0')).toBeDefined();
      });

      describe('filters: OR within one, AND across them', () => {
        beforeEach(async () => {
          await insert(
            {
              messageId: 'msg_1',
              url: 'https://a.example/hooks/one?x=1',
              topicName: 'orders',
              labels: ['red', 'blue'],
              callerIp: '10.0.0.1',
              createdAt: T0,
            },
            {
              messageId: 'msg_2',
              url: 'https://b.example:8443/hooks/two',
              topicName: 'orders',
              labels: ['green'],
              callerIp: '10.0.0.2',
              createdAt: T0 + 100,
            },
            {
              messageId: 'msg_3',
              url: 'https://a.example/other',
              scheduleId: 'scd_1',
              labels: [],
              createdAt: T0 + 200,
              flowControl: { key: 'llm', parallelism: 2 },
            },
          );
        });
        const ALL = ['msg_1', 'msg_2', 'msg_3'];
        const cancelledBy = async (filter: MessageFilter) => {
          const count = await messages.cancelMessages(filter, NOW);
          const remaining = await pendingIds(ALL);
          const cancelled = ALL.filter((id) => !remaining.includes(id));
          expect(cancelled).toHaveLength(count);
          return cancelled;
        };

        it.each<[string, MessageFilter, string[]]>([
          ['url (exact, query included)', { url: ['https://a.example/hooks/one?x=1'] }, ['msg_1']],
          ['url, two values', { url: ['https://a.example/other', 'https://nowhere/'] }, ['msg_3']],
          ['host', { host: ['a.example'] }, ['msg_1', 'msg_3']],
          ['host with its port', { host: ['b.example:8443'] }, ['msg_2']],
          ['path', { path: ['/hooks/one', '/hooks/two'] }, ['msg_1', 'msg_2']],
          ['topicName', { topicName: ['orders'] }, ['msg_1', 'msg_2']],
          ['scheduleId', { scheduleId: ['scd_1'] }, ['msg_3']],
          ['label, any of', { label: ['blue', 'green'] }, ['msg_1', 'msg_2']],
          ['callerIp', { callerIp: ['10.0.0.2'] }, ['msg_2']],
          ['fromDate (inclusive)', { fromDate: T0 + 100 }, ['msg_2', 'msg_3']],
          ['toDate (inclusive)', { toDate: T0 + 100 }, ['msg_1', 'msg_2']],
          ['topicName AND label', { topicName: ['orders'], label: ['green'] }, ['msg_2']],
          ['host AND fromDate', { host: ['a.example'], fromDate: T0 + 1 }, ['msg_3']],
          ['flowControlKey, any of', { flowControlKey: ['llm', 'other'] }, ['msg_3']],
          ['flowControlKey AND host', { flowControlKey: ['llm'], host: ['b.example:8443'] }, []],
          ['a filter with no values', { topicName: [] }, []],
        ])('by %s', async (_, filter, expected) => {
          expect(await cancelledBy(filter)).toEqual(expected);
        });

        it('cancels at most `limit`, the earliest created first', async () => {
          expect(await messages.cancelMessages({ topicName: ['orders'] }, NOW, 1)).toBe(1);
          expect(await pendingIds(ALL)).toEqual(['msg_2', 'msg_3']);
          expect(await messages.cancelMessages({}, NOW, 5)).toBe(2);
          expect(await pendingIds(ALL)).toEqual([]);
        });
      });
    });

    describe('cancelMessages on a message whose attempt is in flight', () => {
      // No retries: its first attempt is also its last (failedSettlement settles that one).
      const message = makeMessage({
        messageId: 'msg_a',
        maxRetries: 0,
        callback: { url: 'https://example.com/cb', method: 'POST', header: {} },
        failureCallback: { url: 'https://example.com/fcb', method: 'POST', header: {} },
      });

      beforeEach(async () => {
        await messages.insertMessage(message, undefined, T0);
        await stores.startAttempt('msg_a', T0);
      });

      it('marks it with a CANCEL_REQUESTED event only; it is no longer pending', async () => {
        expect(await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW)).toBe(1);

        expect(await statesOf('msg_a')).toEqual(['CREATED', 'CANCEL_REQUESTED']);
        expect(await messages.getPendingMessage('msg_a')).toBeUndefined();
        expect(await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW + 1)).toBe(0);
      });

      it('ends it CANCELED when the attempt fails and would retry: no retry is kept', async () => {
        await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);
        const callback = callbackMessage(message, 'msg_cb', 'callback');

        const applied = await messages.settleAttempt({
          ...retrySettlement(message, NOW + 5),
          callbacks: [callback],
        });

        expect(applied?.outcome).toEqual({ kind: 'canceled' });
        expect(await statesOf('msg_a')).toEqual([
          'CREATED',
          'CANCEL_REQUESTED',
          'ACTIVE',
          'ERROR',
          'CANCELED',
        ]);
        expect(await messages.getMessage('msg_a')).toBeUndefined();
        // The callback reports a response that did arrive, so it is still stored.
        expect(applied?.callbacks.map((m) => m.messageId)).toEqual(['msg_cb']);
        expect(await messages.getPendingMessage('msg_cb')).toBeDefined();
      });

      it('ends it CANCELED when the attempt fails for good: no dead letter, no failure callback', async () => {
        await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);
        const failureCallback = callbackMessage(message, 'msg_fcb', 'failure-callback');

        const applied = await messages.settleAttempt(
          failedSettlement(message, deadLetterOf(message, '9-0', NOW + 5), [failureCallback]),
        );

        expect(applied?.outcome).toEqual({ kind: 'canceled' });
        expect(applied?.callbacks).toEqual([]);
        expect(await messages.getMessage('msg_fcb')).toBeUndefined();
        expect(await stores.deadLetters.getDeadLetter('9-0')).toBeUndefined();
        expect(await messages.getMessage('msg_a')).toBeUndefined();
        expect(await statesOf('msg_a')).toEqual([
          'CREATED',
          'CANCEL_REQUESTED',
          'ACTIVE',
          'ERROR',
          'CANCELED',
        ]);
      });

      it('keeps a delivered attempt delivered: the destination has it', async () => {
        await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);

        const applied = await messages.settleAttempt(deliveredSettlement(message, NOW + 5));

        expect(applied?.outcome).toEqual({ kind: 'delivered' });
        expect(await statesOf('msg_a')).toEqual([
          'CREATED',
          'CANCEL_REQUESTED',
          'ACTIVE',
          'DELIVERED',
        ]);
        expect(await messages.getMessage('msg_a')).toBeUndefined();
      });

      it('ends it CANCELED when the attempt is given back uncounted, instead of running again', async () => {
        await messages.cancelMessages({ messageIds: ['msg_a'] }, NOW);

        await stores.abandonAttempt('msg_a');

        expect(await statesOf('msg_a')).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
        expect(await messages.getMessage('msg_a')).toBeUndefined();
      });

      it('settles normally when no cancel came', async () => {
        const applied = await messages.settleAttempt(retrySettlement(message, NOW));

        expect(applied?.outcome.kind).toBe('retry');
        expect(await messages.getPendingMessage('msg_a')).toBeDefined();
      });
    });
  });
}
