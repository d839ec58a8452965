import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { LogFilter } from '../../lambdas/ports/event-log';
import type { ListOrder } from '../../lambdas/ports/listing';
import { makeMessage, T0 } from '../helpers/messages';
import type { DynamoStores } from './dynamo-stores';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeEventLogContract } from './event-log.contract';

useDynalite();

describeEventLogContract('DynamoEventLog', () => makeDynamoStores());

const MINUTE_MS = 60_000;

describe('DynamoEventLog on DynamoDB', () => {
  let stores: DynamoStores;

  afterEach(async () => {
    await stores.cleanup();
  });

  const publishAt = async (count: number, gapMs: number, topicOf = (_: number) => 'common') => {
    for (let index = 0; index < count; index += 1) {
      const createdAt = T0 + index * gapMs;
      await stores.messages.insertMessage(
        makeMessage({ messageId: `msg_${index}`, createdAt, topicName: topicOf(index) }),
        undefined,
        createdAt,
      );
    }
  };
  /** Every page of a listing, following cursors. */
  const allPages = async (order: ListOrder, count: number, filter: LogFilter = {}) => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await stores.events.listEvents({ filter, order, count, cursor });
      pages.push(page.items.map(({ event }) => event.messageId));
      cursor = page.cursor;
      if (pages.length > 100) throw new Error('paging did not end');
    } while (cursor !== undefined);
    return pages;
  };

  it('spreads one hour of events over the shards, and lists them in order across hours', async () => {
    stores = await makeDynamoStores({ timeIndexShards: 4 });
    // 24 messages 10 minutes apart: 4 hours, 6 events an hour.
    await publishAt(24, 10 * MINUTE_MS);
    const ids = Array.from({ length: 24 }, (_, index) => `msg_${index}`);

    const { Items = [] } = await stores.options.client.send(
      new ScanCommand({ TableName: stores.options.tableName }),
    );
    const partitions = new Set(
      Items.map((item) => item.gsi1pk?.S).filter((pk) => pk?.startsWith('EVT#')),
    );
    const firstHour = [...partitions].filter((pk) => pk!.startsWith('EVT#2025-01-01T00#'));

    expect(firstHour.length).toBeGreaterThan(1);
    expect((await allPages('earliestFirst', 5)).flat()).toEqual(ids);
    expect((await allPages('latestFirst', 7)).flat()).toEqual([...ids].reverse());
    expect(
      (
        await allPages('earliestFirst', 3, {
          fromDate: T0 + 65 * MINUTE_MS,
          toDate: T0 + 2 * 60 * MINUTE_MS,
        })
      ).flat(),
    ).toEqual(ids.slice(7, 13));
  });

  it('bounds the work of a listing that filters out most events, and pages on to every match', async () => {
    stores = await makeDynamoStores({ maxExaminedPerPage: 5 });
    await publishAt(30, MINUTE_MS, (index) => (index === 7 || index === 23 ? 'rare' : 'common'));

    const pages = await allPages('latestFirst', 10, { topicName: ['rare'] });

    expect(pages.flat()).toEqual(['msg_23', 'msg_7']);
    expect(pages.length).toBeGreaterThan(2);
  });
});
