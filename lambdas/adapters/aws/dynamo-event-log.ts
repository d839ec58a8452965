import type { EventLog, LogFilter, LogRecord } from '../../ports/event-log';
import type { ListQuery, Page } from '../../ports/listing';
import {
  allOf,
  ExpressionBuilder,
  MATCHES_NOTHING,
  messageFilterConditions,
} from './dynamo-expressions';
import type { DynamoStoreOptions } from './dynamo-message-table';
import { DynamoMessageTable, EVENT_POSITION, keys } from './dynamo-message-table';
import {
  decodeCursor,
  encodeCursor,
  listByPosition,
  oneSegment,
  positionAtTime,
  rangeOf,
} from './dynamo-time-index';
import { TABLE } from './table';

const DIGITS = /^\d+$/;

/**
 * The event log on DynamoDB. Events are written by the other adapters (dynamo-message-table.ts
 * `prepareEvents`) into their message's partition and into the sharded hourly time index
 * (dynamo-time-index.ts): a listing walks the hours that hold events, merging each hour's
 * shards by (time, append order), with the filters as a FilterExpression on the attributes every
 * event carries. A `messageIds` filter reads those messages' partitions instead. Each page is
 * joined with the records of its messages, as created.
 */
export class DynamoEventLog implements EventLog {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async listEvents(query: ListQuery<LogFilter>): Promise<Page<LogRecord>> {
    const { filter, order, count } = query;
    const table = this.#table;
    const byIds = filter.messageIds !== undefined;
    const { messageIds: _messageIds, ...rest } = filter;
    const conditions = (builder: ExpressionBuilder) =>
      messageFilterConditions(builder, byIds ? rest : filter, {
        extra: [{ attribute: 'state', values: filter.states }],
      });
    if (
      (byIds && filter.messageIds!.length === 0) ||
      conditions(new ExpressionBuilder()) === MATCHES_NOTHING
    ) {
      return { items: [] };
    }
    const range = rangeOf(order, filter, readCursor(query.cursor, order));
    const segments = byIds
      ? oneSegment(
          [...new Set(filter.messageIds)].map((messageId) => ({
            partitionAttribute: TABLE.partitionKey,
            partition: keys.record(messageId).pk,
            sortAttribute: TABLE.sortKey,
            sort: { range: 'EVT#' },
            consistent: true,
          })),
        )
      : table.events.segments(order, range);
    const page = await listByPosition(table.calls, {
      segments,
      order,
      range,
      count,
      positionAttribute: TABLE.gsi1.sortKey,
      filter: (builder) => allOf(conditions(builder) as string[]),
      maxExamined: table.maxExamined,
    });
    const messages = await table.readRecords(page.items.map((item) => item.messageId as string));
    const items = await Promise.all(
      page.items.map(async (item): Promise<LogRecord> => {
        const message = messages.get(item.messageId as string);
        return { event: await table.decodeEvent(item), ...(message && { message }) };
      }),
    );
    return { items, ...(page.next !== undefined && { cursor: encodeCursor(page.next) }) };
  }
}

/**
 * Reads a page cursor. A bare number is also accepted, as a time in ms to start from (inclusive),
 * since the JS SDK documents starting its paging loop with `cursor: Date.now()`.
 */
function readCursor(cursor: string | undefined, order: ListQuery['order']): string | undefined {
  if (cursor === undefined) return undefined;
  if (DIGITS.test(cursor)) return positionAtTime(Number(cursor), order);
  return decodeCursor(cursor, EVENT_POSITION);
}
