import type { LogEvent, Message, MessageState } from '../../lambdas/core/message';
import type { LogFilter, LogRecord } from '../../lambdas/ports/event-log';
import type { ListOrder, ListQuery } from '../../lambdas/ports/listing';
import { makeMessage, T0 } from '../helpers/messages';
import { comparable, deliveredSettlement, event, retrySettlement } from '../helpers/settlements';
import type { MakeStores, StoresUnderTest } from './stores-under-test';

/**
 * EventLog: the events the stores append, with each message's configuration joined in, filtered
 * and paged. Run by each adapter's test file.
 */
export function describeEventLogContract(name: string, makeStores: MakeStores): void {
  describe(`${name} (EventLog contract)`, () => {
    let stores: StoresUnderTest;

    beforeEach(async () => {
      stores = await makeStores();
    });
    afterEach(async () => {
      await stores.cleanup();
    });

    const list = (filter: LogFilter = {}, options: Partial<ListQuery<LogFilter>> = {}) =>
      stores.events.listEvents({ filter, count: 1000, order: 'earliestFirst', ...options });
    const summary = (records: readonly LogRecord[]) =>
      records.map(({ event }) => `${event.messageId}:${event.state}@${event.time - T0}`);
    const publish = async (message: Message, at = message.createdAt) => {
      await stores.messages.insertMessage(message, undefined, at);
      return message;
    };

    it('echoes the message as created on every event, also after it was delivered', async () => {
      const message = await publish(
        makeMessage({
          messageId: 'msg_a',
          body: Uint8Array.from([1, 2, 250]),
          topicName: 'orders',
          labels: ['red'],
          retryDelayExpression: '1000',
        }),
      );
      await stores.messages.settleAttempt(deliveredSettlement(message, T0 + 5));

      const page = await list();

      expect(summary(page.items)).toEqual([
        'msg_a:CREATED@0',
        'msg_a:ACTIVE@5',
        'msg_a:DELIVERED@5',
      ]);
      expect(await stores.messages.getMessage('msg_a')).toBeUndefined();
      for (const record of page.items)
        expect(comparable(record.message)).toEqual(comparable(message));
      expect(page.items[2]!.event).toEqual(
        event(message, 'DELIVERED', T0 + 5, { responseStatus: 200 }),
      );
      expect(page.cursor).toBeUndefined();
    });

    it('keeps what each event carries: errors, responses, next delivery time', async () => {
      const message = await publish(makeMessage({ messageId: 'msg_a' }));
      const settlement = retrySettlement(message, T0 + 5);
      const withResponse: LogEvent = {
        ...settlement.events[1]!,
        responseHeader: { 'Retry-After': ['3'] },
        responseBody: Buffer.from('busy').toString('base64'),
      };
      await stores.messages.settleAttempt({
        ...settlement,
        events: [settlement.events[0]!, withResponse, settlement.events[2]!],
      });

      const events = (await list()).items.map((record) => record.event);

      expect(events.slice(1)).toEqual([
        settlement.events[0],
        withResponse,
        { ...settlement.events[2], nextDeliveryTime: T0 + 1_005 },
      ]);
    });

    describe('order and paging', () => {
      beforeEach(async () => {
        // Six events, several in the same millisecond.
        const a = await publish(makeMessage({ messageId: 'msg_a', createdAt: T0 }));
        const b = await publish(makeMessage({ messageId: 'msg_b', createdAt: T0 }));
        await stores.messages.settleAttempt(deliveredSettlement(a, T0 + 7));
        await stores.messages.settleAttempt(deliveredSettlement(b, T0 + 3));
      });
      const ORDERED = [
        'msg_a:CREATED@0',
        'msg_b:CREATED@0',
        'msg_b:ACTIVE@3',
        'msg_b:DELIVERED@3',
        'msg_a:ACTIVE@7',
        'msg_a:DELIVERED@7',
      ];

      it('orders by time, then by the order events were written; latest first when asked', async () => {
        expect(summary((await list()).items)).toEqual(ORDERED);
        expect(summary((await list({}, { order: 'latestFirst' })).items)).toEqual(
          [...ORDERED].reverse(),
        );
      });

      it.each<[ListOrder, number]>([
        ['earliestFirst', 1],
        ['earliestFirst', 4],
        ['latestFirst', 2],
        ['latestFirst', 5],
      ])(
        'visits every event once, %s by %i, with no cursor on the last page',
        async (order, count) => {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await list({}, { order, count, cursor });
            expect(page.items.length).toBeLessThanOrEqual(count);
            seen.push(...summary(page.items));
            cursor = page.cursor;
            pages += 1;
          } while (cursor !== undefined && pages < 20);

          expect(seen).toEqual(order === 'earliestFirst' ? ORDERED : [...ORDERED].reverse());
          expect(pages).toBe(Math.ceil(ORDERED.length / count));
        },
      );

      it('takes a bare time in ms as a cursor, starting there (inclusive)', async () => {
        expect(
          summary((await list({}, { order: 'latestFirst', cursor: String(T0 + 3) })).items),
        ).toEqual(['msg_b:DELIVERED@3', 'msg_b:ACTIVE@3', 'msg_b:CREATED@0', 'msg_a:CREATED@0']);
        expect(summary((await list({}, { cursor: String(T0 + 3) })).items)).toEqual(
          ORDERED.slice(2),
        );
      });

      it('rejects a cursor it did not make', async () => {
        await expect(list({}, { cursor: 'nope!' })).rejects.toThrow(/invalid cursor/);
      });
    });

    describe('filters', () => {
      beforeEach(async () => {
        const a = await publish(
          makeMessage({
            messageId: 'msg_a',
            url: 'https://a.example/one',
            topicName: 'orders',
            labels: ['red'],
            callerIp: '10.0.0.1',
          }),
        );
        const b = await publish(
          makeMessage({
            messageId: 'msg_b',
            url: 'https://b.example/two',
            queueName: 'q1',
            scheduleId: 'scd_1',
            labels: ['blue', 'green'],
            flowControl: { key: 'llm', parallelism: 1 },
          }),
        );
        await stores.messages.settleAttempt(retrySettlement(a, T0 + 10));
        await stores.messages.settleAttempt(deliveredSettlement(b, T0 + 20));
      });
      const states = (records: readonly LogRecord[]) =>
        records.map(({ event }) => `${event.messageId}:${event.state}`);

      it.each<[string, LogFilter, string[]]>([
        [
          'messageIds',
          { messageIds: ['msg_b'] },
          ['msg_b:CREATED', 'msg_b:ACTIVE', 'msg_b:DELIVERED'],
        ],
        [
          'states',
          { states: ['CREATED', 'RETRY'] },
          ['msg_a:CREATED', 'msg_b:CREATED', 'msg_a:RETRY'],
        ],
        [
          'url',
          { url: ['https://a.example/one'] },
          ['msg_a:CREATED', 'msg_a:ACTIVE', 'msg_a:ERROR', 'msg_a:RETRY'],
        ],
        [
          'host and path',
          { host: ['b.example'], path: ['/two'] },
          ['msg_b:CREATED', 'msg_b:ACTIVE', 'msg_b:DELIVERED'],
        ],
        ['topicName AND states', { topicName: ['orders'], states: ['ERROR'] }, ['msg_a:ERROR']],
        ['queueName', { queueName: ['q1'], states: ['DELIVERED'] }, ['msg_b:DELIVERED']],
        ['scheduleId', { scheduleId: ['scd_1'], states: ['CREATED'] }, ['msg_b:CREATED']],
        ['label', { label: ['green'], states: ['ACTIVE'] }, ['msg_b:ACTIVE']],
        ['callerIp', { callerIp: ['10.0.0.1'], states: ['CREATED'] }, ['msg_a:CREATED']],
        [
          'flowControlKey',
          { flowControlKey: ['llm', 'other'] },
          ['msg_b:CREATED', 'msg_b:ACTIVE', 'msg_b:DELIVERED'],
        ],
        [
          'fromDate and toDate on the event time',
          { fromDate: T0 + 10, toDate: T0 + 19 },
          ['msg_a:ACTIVE', 'msg_a:ERROR', 'msg_a:RETRY'],
        ],
        ['no match', { topicName: ['nope'] }, []],
      ])('by %s', async (_, filter, expected) => {
        expect(states((await list(filter)).items)).toEqual(expected);
      });
    });

    it('shows the states of a cancel', async () => {
      // Due later: it waits for its attempt, so it ends canceled at once.
      await publish(makeMessage({ messageId: 'msg_a', notBefore: T0 + 60_000 }));
      await stores.messages.cancelMessages({ messageIds: ['msg_a'] }, T0 + 9);

      const canceled = await list({ states: ['CANCEL_REQUESTED', 'CANCELED'] as MessageState[] });

      expect(summary(canceled.items)).toEqual(['msg_a:CANCEL_REQUESTED@9', 'msg_a:CANCELED@9']);
      expect(canceled.items[1]!.message?.messageId).toBe('msg_a');
    });
  });
}
