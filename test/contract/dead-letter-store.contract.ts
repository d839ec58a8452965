import type { Message } from '../../lambdas/core/message';
import type { DeadLetterEntry, DeadLetterFilter } from '../../lambdas/ports/dead-letter-store';
import type { ListOrder, ListQuery } from '../../lambdas/ports/listing';
import { makeMessage, T0 } from '../helpers/messages';
import { bytes, comparable, deadLetterOf, failedSettlement } from '../helpers/settlements';
import type { MakeStores, StoresUnderTest } from './stores-under-test';

/**
 * DeadLetterStore: entries written by a failed settlement, read, paged, filtered, deleted and
 * replaced by retried messages. Run by each adapter's test file.
 */
export function describeDeadLetterStoreContract(name: string, makeStores: MakeStores): void {
  describe(`${name} (DeadLetterStore contract)`, () => {
    let stores: StoresUnderTest;

    beforeEach(async () => {
      stores = await makeStores();
    });
    afterEach(async () => {
      await stores.cleanup();
    });

    /** Publishes and fails a message, leaving a dead letter `dlqId` failed at `failedAt`. */
    const fail = async (
      dlqId: string,
      failedAt: number,
      message: Partial<Message> = {},
      responseStatus = 500,
    ): Promise<Message> => {
      const stored = makeMessage({ messageId: `msg_${dlqId}`, ...message });
      await stores.messages.insertMessage(stored, undefined, T0);
      await stores.messages.settleAttempt(
        failedSettlement(stored, deadLetterOf(stored, dlqId, failedAt, { responseStatus })),
      );
      return stored;
    };
    const list = (
      filter: DeadLetterFilter = {},
      options: Partial<ListQuery<DeadLetterFilter>> = {},
    ) =>
      stores.deadLetters.listDeadLetters({ filter, count: 100, order: 'latestFirst', ...options });
    const ids = (entries: readonly DeadLetterEntry[]) => entries.map((e) => e.deadLetter.dlqId);

    /** Every page of a list, following cursors; fails on a repeated item or a runaway loop. */
    const allPages = async (order: ListOrder, count: number, filter: DeadLetterFilter = {}) => {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await list(filter, { order, count, cursor });
        pages.push(ids(page.items));
        cursor = page.cursor;
        if (pages.length > 20) throw new Error('paging did not end');
      } while (cursor !== undefined);
      return pages;
    };

    describe('listDeadLetters and getDeadLetter', () => {
      it('returns the entry with the message as it was and the last response', async () => {
        const message = await fail('100-0', T0 + 100, {
          body: Uint8Array.from([0, 159, 255]),
          labels: ['billing'],
          topicName: 'orders',
        });
        const expected = {
          deadLetter: deadLetterOf(message, '100-0', T0 + 100),
          message: comparable(message),
        };

        const page = await list();
        const got = await stores.deadLetters.getDeadLetter('100-0');

        expect(page.cursor).toBeUndefined();
        for (const entry of [page.items[0], got]) {
          expect({
            deadLetter: {
              ...entry!.deadLetter,
              responseBody: Array.from(entry!.deadLetter.responseBody),
            },
            message: comparable(entry!.message),
          }).toEqual({
            deadLetter: { ...expected.deadLetter, responseBody: Array.from(bytes('boom')) },
            message: expected.message,
          });
        }
      });

      it('returns undefined for an unknown id, and an empty page for an empty DLQ', async () => {
        expect(await stores.deadLetters.getDeadLetter('1-0')).toBeUndefined();
        expect(await list()).toEqual({ items: [] });
      });

      it('orders by failure time, latest first unless asked, then by dlqId', async () => {
        await fail('300-0', T0 + 300);
        await fail('100-0', T0 + 100);
        await fail('200-1', T0 + 200);
        await fail('200-0', T0 + 200);

        expect(ids((await list()).items)).toEqual(['300-0', '200-1', '200-0', '100-0']);
        expect(ids((await list({}, { order: 'earliestFirst' })).items)).toEqual([
          '100-0',
          '200-0',
          '200-1',
          '300-0',
        ]);
      });
    });

    describe('paging', () => {
      beforeEach(async () => {
        // Several entries share a failure time, so a cursor on time alone would skip or repeat.
        for (const [dlqId, at] of [
          ['10-0', 10],
          ['10-1', 10],
          ['10-2', 10],
          ['20-0', 20],
          ['20-1', 20],
          ['30-0', 30],
          ['40-0', 40],
        ] as const) {
          await fail(dlqId, T0 + at);
        }
      });

      it.each<[ListOrder, number]>([
        ['latestFirst', 2],
        ['earliestFirst', 2],
        ['latestFirst', 3],
        ['earliestFirst', 1],
      ])(
        'visits every entry once, in order, %s by %i, with no cursor on the last page',
        async (order, count) => {
          const pages = await allPages(order, count);

          const everything = ids((await list({}, { order })).items);
          expect(pages.flat()).toEqual(everything);
          expect(everything).toHaveLength(7);
          expect(pages.every((page) => page.length <= count)).toBe(true);
          expect(pages.at(-1)!.length).toBeGreaterThan(0);
        },
      );

      it('gives no cursor when the last page is exactly full', async () => {
        const page = await list({}, { count: 7 });

        expect(page.items).toHaveLength(7);
        expect(page.cursor).toBeUndefined();
      });

      it('neither skips nor repeats when entries are deleted or added between pages', async () => {
        const first = await list({}, { count: 3 });
        expect(ids(first.items)).toEqual(['40-0', '30-0', '20-1']);
        // The last entry seen goes away, and one fails later than any seen so far.
        await stores.deadLetters.deleteDeadLetters({
          filter: { dlqIds: ['20-1'] },
          count: 1,
          order: 'latestFirst',
        });
        await fail('50-0', T0 + 50);

        const rest = await list({}, { count: 10, cursor: first.cursor });

        expect(ids(rest.items)).toEqual(['20-0', '10-2', '10-1', '10-0']);
      });

      it('pages filtered lists too', async () => {
        const pages = await allPages('earliestFirst', 2, { dlqIds: ['10-1', '20-0', '40-0'] });

        expect(pages).toEqual([['10-1', '20-0'], ['40-0']]);
      });

      it('rejects a cursor it did not make', async () => {
        await expect(list({}, { cursor: 'not-a-cursor' })).rejects.toThrow(/invalid cursor/);
      });
    });

    describe('filters', () => {
      beforeEach(async () => {
        await fail('1-0', T0 + 1, { url: 'https://a.example/x', labels: ['red'] }, 500);
        await fail(
          '2-0',
          T0 + 2,
          {
            url: 'https://b.example/y',
            topicName: 'orders',
            flowControl: { key: 'llm', rate: 5, periodSec: 1 },
          },
          0,
        );
        await fail(
          '3-0',
          T0 + 3,
          { url: 'https://a.example/z', queueName: 'q1', scheduleId: 'scd_9', labels: ['blue'] },
          404,
        );
      });

      it.each<[string, DeadLetterFilter, string[]]>([
        ['dlqIds', { dlqIds: ['1-0', '3-0', '9-9'] }, ['3-0', '1-0']],
        ['messageIds', { messageIds: ['msg_2-0'] }, ['2-0']],
        ['responseStatus', { responseStatus: [0, 404] }, ['3-0', '2-0']],
        ['url', { url: ['https://a.example/x'] }, ['1-0']],
        ['host', { host: ['a.example'] }, ['3-0', '1-0']],
        ['topicName', { topicName: ['orders'] }, ['2-0']],
        ['queueName', { queueName: ['q1'] }, ['3-0']],
        ['scheduleId', { scheduleId: ['scd_9'] }, ['3-0']],
        ['label', { label: ['red', 'blue'] }, ['3-0', '1-0']],
        ['flowControlKey', { flowControlKey: ['other', 'llm'] }, ['2-0']],
        ['fromDate and toDate on the failure time', { fromDate: T0 + 2, toDate: T0 + 2 }, ['2-0']],
        ['host AND responseStatus', { host: ['a.example'], responseStatus: [500] }, ['1-0']],
      ])('by %s', async (_, filter, expected) => {
        expect(ids((await list(filter)).items)).toEqual(expected);
      });
    });

    describe('deleteDeadLetters', () => {
      beforeEach(async () => {
        for (const at of [1, 2, 3, 4, 5]) await fail(`${at}-0`, T0 + at);
      });

      it('deletes the entries named by dlqIds and counts only those that were there', async () => {
        const result = await stores.deadLetters.deleteDeadLetters({
          filter: { dlqIds: ['2-0', '4-0', '9-0'] },
          count: 100,
          order: 'latestFirst',
        });

        expect(result).toEqual({ deleted: 2 });
        expect(ids((await list()).items)).toEqual(['5-0', '3-0', '1-0']);
        expect(await stores.deadLetters.getDeadLetter('2-0')).toBeUndefined();
      });

      it('deletes in batches of count, with a cursor until the last batch', async () => {
        const query = { filter: {}, count: 2, order: 'earliestFirst' as const };

        const first = await stores.deadLetters.deleteDeadLetters(query);
        const second = await stores.deadLetters.deleteDeadLetters({
          ...query,
          cursor: first.cursor,
        });
        const third = await stores.deadLetters.deleteDeadLetters({
          ...query,
          cursor: second.cursor,
        });

        expect([first.deleted, second.deleted, third.deleted]).toEqual([2, 2, 1]);
        expect(first.cursor).toBeDefined();
        expect(second.cursor).toBeDefined();
        expect(third.cursor).toBeUndefined();
        expect((await list()).items).toEqual([]);
      });

      it('deletes only what the filter matches', async () => {
        const result = await stores.deadLetters.deleteDeadLetters({
          filter: { fromDate: T0 + 4 },
          count: 100,
          order: 'latestFirst',
        });

        expect(result).toEqual({ deleted: 2 });
        expect(ids((await list()).items)).toEqual(['3-0', '2-0', '1-0']);
      });
    });

    describe('replaceWithMessages', () => {
      it('removes the entries and stores the new messages with a CREATED event, atomically', async () => {
        const failed = await fail('1-0', T0 + 1);
        await fail('2-0', T0 + 2);
        const retried = makeMessage({ ...failed, messageId: 'msg_retried', createdAt: T0 + 50 });

        const result = await stores.deadLetters.replaceWithMessages(
          [{ dlqId: '1-0', message: retried }],
          T0 + 50,
        );

        expect(result).toEqual({ missing: [] });
        expect(ids((await list()).items)).toEqual(['2-0']);
        expect(comparable(await stores.messages.getPendingMessage('msg_retried'))).toEqual(
          comparable(retried),
        );
        const log = await stores.events.listEvents({
          filter: { messageIds: ['msg_retried'] },
          count: 10,
          order: 'earliestFirst',
        });
        expect(log.items.map(({ event }) => [event.state, event.time])).toEqual([
          ['CREATED', T0 + 50],
        ]);
      });

      it('changes nothing and names the missing ids when any entry is not in the DLQ', async () => {
        const failed = await fail('1-0', T0 + 1);

        const result = await stores.deadLetters.replaceWithMessages(
          [
            { dlqId: '1-0', message: { ...failed, messageId: 'msg_new_1' } },
            { dlqId: '7-0', message: { ...failed, messageId: 'msg_new_2' } },
          ],
          T0 + 50,
        );

        expect(result).toEqual({ missing: ['7-0'] });
        expect(ids((await list()).items)).toEqual(['1-0']);
        expect(await stores.messages.getMessage('msg_new_1')).toBeUndefined();
      });

      it('cannot retry the same entry twice', async () => {
        const failed = await fail('1-0', T0 + 1);
        await stores.deadLetters.replaceWithMessages(
          [{ dlqId: '1-0', message: { ...failed, messageId: 'msg_new_1' } }],
          T0 + 50,
        );

        const again = await stores.deadLetters.replaceWithMessages(
          [{ dlqId: '1-0', message: { ...failed, messageId: 'msg_new_2' } }],
          T0 + 60,
        );

        expect(again).toEqual({ missing: ['1-0'] });
        expect(await stores.messages.getMessage('msg_new_2')).toBeUndefined();
      });
    });
  });
}
