import type { Message } from '../../lambdas/core/message';
import type { ListOrder } from '../../lambdas/ports/listing';
import type { PendingFilter } from '../../lambdas/ports/pending-message-list';
import { makeMessage, T0 } from '../helpers/messages';
import {
  comparable,
  deadLetterOf,
  deliveredSettlement,
  failedSettlement,
  retrySettlement,
} from '../helpers/settlements';
import type { MakeStores, StoresUnderTest } from './stores-under-test';

/**
 * Not due for a long time, whatever the clock says. A store that keeps no lease (AWS) can only
 * say an attempt is due and handed over, so a message due already counts there as in flight.
 */
const FUTURE = Date.UTC(2100, 0, 1);

/**
 * PendingMessageList: the messages that may still be attempted, filtered and paged by creation
 * time. Run by each adapter's test file.
 */
export function describePendingMessageListContract(name: string, makeStores: MakeStores): void {
  describe(`${name} (PendingMessageList contract)`, () => {
    let stores: StoresUnderTest;

    beforeEach(async () => {
      stores = await makeStores();
    });
    afterEach(async () => {
      await stores.cleanup();
    });

    const publish = async (overrides: Partial<Message>): Promise<Message> => {
      const message = makeMessage(overrides);
      await stores.messages.insertMessage(message, undefined, message.createdAt);
      return message;
    };
    const list = (filter: PendingFilter = {}, order: ListOrder = 'earliestFirst') =>
      stores.pending.listPendingMessages({ filter, order, count: 100 });
    const ids = async (filter: PendingFilter = {}, order: ListOrder = 'earliestFirst') =>
      (await list(filter, order)).items.map((item) => item.message.messageId);

    it('lists waiting, retrying and in-flight messages, and none that are done', async () => {
      // Due times keep each message out of the others' attempts (SQLite leases all that are due).
      const waiting = await publish({
        messageId: 'msg_waiting',
        createdAt: T0,
        notBefore: FUTURE,
        labels: ['a'],
      });
      const retrying = await publish({ messageId: 'msg_retrying', createdAt: T0 + 1 });
      await publish({ messageId: 'msg_in_flight', createdAt: T0 + 2 });
      const delivered = await publish({ messageId: 'msg_delivered', createdAt: T0 + 3 });
      const failed = await publish({ messageId: 'msg_failed', createdAt: T0 + 4, maxRetries: 0 });
      await publish({ messageId: 'msg_canceled', createdAt: T0 + 5 });
      await publish({ messageId: 'msg_cancel_requested', createdAt: T0 + 6, notBefore: T0 + 20 });

      await stores.messages.settleAttempt(retrySettlement(retrying, FUTURE));
      await stores.messages.settleAttempt(deliveredSettlement(delivered, T0 + 10));
      await stores.messages.settleAttempt(
        failedSettlement(failed, deadLetterOf(failed, '1-0', T0 + 10)),
      );
      await stores.messages.cancelMessages({ messageIds: ['msg_canceled'] }, T0 + 10);
      await stores.startAttempt('msg_in_flight', T0 + 10);
      await stores.startAttempt('msg_cancel_requested', T0 + 20);
      await stores.messages.cancelMessages({ messageIds: ['msg_cancel_requested'] }, T0 + 21);

      const page = await list();

      expect(
        page.items.map(({ message, retried, dueAt, inFlight }) => ({
          id: message.messageId,
          retried,
          dueAt,
          inFlight,
        })),
      ).toEqual([
        { id: 'msg_waiting', retried: 0, dueAt: FUTURE, inFlight: false },
        { id: 'msg_retrying', retried: 1, dueAt: FUTURE + 1_000, inFlight: false },
        { id: 'msg_in_flight', retried: 0, dueAt: T0, inFlight: true },
      ]);
      expect(comparable(page.items[0]!.message)).toEqual(comparable(waiting));
      expect(page.cursor).toBeUndefined();
      expect(await ids({ inFlight: true })).toEqual(['msg_in_flight']);
      expect(await ids({ inFlight: false })).toEqual(['msg_waiting', 'msg_retrying']);
      expect(
        await ids({ messageIds: ['msg_in_flight', 'msg_delivered', 'msg_failed', 'msg_waiting'] }),
      ).toEqual(['msg_waiting', 'msg_in_flight']);
      expect(await ids({ messageIds: ['msg_waiting', 'msg_retrying'], inFlight: false })).toEqual([
        'msg_waiting',
        'msg_retrying',
      ]);
    });

    it('filters on the message and bounds the creation time', async () => {
      await publish({
        messageId: 'msg_1',
        createdAt: T0,
        labels: ['red'],
        url: 'https://a.test/x',
      });
      await publish({ messageId: 'msg_2', createdAt: T0 + 1, queueName: 'jobs' });
      await publish({ messageId: 'msg_3', createdAt: T0 + 2, scheduleId: 'scd_1' });
      await publish({ messageId: 'msg_4', createdAt: T0 + 3, labels: ['blue', 'red'] });

      expect(await ids({ label: ['red'] })).toEqual(['msg_1', 'msg_4']);
      expect(await ids({ url: ['https://a.test/x'] })).toEqual(['msg_1']);
      expect(await ids({ queueName: ['jobs'] })).toEqual(['msg_2']);
      expect(await ids({ scheduleId: ['scd_1'] })).toEqual(['msg_3']);
      expect(await ids({ fromDate: T0 + 1, toDate: T0 + 2 })).toEqual(['msg_2', 'msg_3']);
      expect(await ids({ label: ['red'], fromDate: T0 + 1 })).toEqual(['msg_4']);
      expect(await ids({ label: [] })).toEqual([]);
    });

    it.each<ListOrder>(['earliestFirst', 'latestFirst'])(
      'pages %s with cursors, each message once, also within one millisecond',
      async (order) => {
        const expected: string[] = [];
        for (let index = 0; index < 7; index += 1) {
          // Pairs share a creation time, so the id must break ties for the cursor.
          const messageId = `msg_${index}`;
          await publish({ messageId, createdAt: T0 + Math.floor(index / 2) });
          expected.push(messageId);
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await stores.pending.listPendingMessages({
            filter: {},
            order,
            count: 3,
            cursor,
          });
          seen.push(...page.items.map((item) => item.message.messageId));
          cursor = page.cursor;
          pages += 1;
        } while (cursor !== undefined && pages < 20);

        expect(seen).toEqual(order === 'earliestFirst' ? expected : [...expected].reverse());
      },
    );
  });
}
