import type { ListQuery, Page } from '../../ports/listing';
import type {
  PendingFilter,
  PendingMessage,
  PendingMessageList,
} from '../../ports/pending-message-list';
import {
  allOf,
  ExpressionBuilder,
  MATCHES_NOTHING,
  messageFilterConditions,
} from './dynamo-expressions';
import type { DynamoStoreOptions, MessageState } from './dynamo-message-table';
import { DynamoMessageTable, keys, PENDING } from './dynamo-message-table';
import {
  decodeCursor,
  encodeCursor,
  listByPosition,
  oneSegment,
  rangeOf,
} from './dynamo-time-index';
import { TABLE } from './table';

/** Pending-index positions: `<createdAt>#<messageId>`, or a bare time. */
const PENDING_POSITION = /^\d{15}(#.+)?$/s;

/**
 * Pending messages on DynamoDB: the state items in the pending index (gsi1 `PENDING#<shard>`,
 * sorted by `<createdAt>#<id>`, see dynamo-message-table.ts), its shards merged by position,
 * the filters as a FilterExpression on the attributes every state carries, each page joined
 * with its messages' records; `messageIds` reads those messages' state items instead. Work per page is bounded as in every listing (dynamo-time-index.ts).
 */
export class DynamoPendingMessageList implements PendingMessageList {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async listPendingMessages(query: ListQuery<PendingFilter>): Promise<Page<PendingMessage>> {
    const { filter, order, count } = query;
    const table = this.#table;
    const conditions = (b: ExpressionBuilder) => {
      const matches = messageFilterConditions(b, filter);
      if (matches === MATCHES_NOTHING) return matches;
      const inFlight = () => {
        const lease = `attribute_exists(${b.name('leaseUntil')})`;
        return filter.inFlight ? lease : `NOT ${lease}`;
      };
      return [
        `${b.name('status')} = ${b.value(PENDING)}`,
        `attribute_not_exists(${b.name('cancelRequestedAt')})`,
        ...(filter.inFlight === undefined ? [] : [inFlight()]),
        ...matches,
      ];
    };
    if (conditions(new ExpressionBuilder()) === MATCHES_NOTHING) return { items: [] };
    const cursor =
      query.cursor === undefined ? undefined : decodeCursor(query.cursor, PENDING_POSITION);
    const range = rangeOf(order, filter, cursor);
    const page = await listByPosition(table.calls, {
      segments: oneSegment(
        filter.messageIds === undefined
          ? Array.from({ length: table.shards }, (_, shard) => ({
              indexName: TABLE.gsi1.name,
              partitionAttribute: TABLE.gsi1.partitionKey,
              partition: `PENDING#${shard}`,
              sortAttribute: TABLE.gsi1.sortKey,
              sort: { range: '' },
              consistent: false,
            }))
          : // Named messages: their state items, read directly and consistently.
            [...new Set(filter.messageIds)].map((messageId) => {
              const state = keys.state(messageId);
              return {
                partitionAttribute: TABLE.partitionKey,
                partition: state.pk as string,
                sortAttribute: TABLE.sortKey,
                sort: { exact: state.sk as string },
                consistent: true,
              };
            }),
      ),
      order,
      range,
      count,
      positionAttribute: TABLE.gsi1.sortKey,
      filter: (b) => allOf(conditions(b) as string[]),
      maxExamined: table.maxExamined,
    });
    const states = page.items as unknown as MessageState[];
    const messages = await table.readRecords(states.map((state) => state.messageId));
    const items: PendingMessage[] = [];
    for (const state of states) {
      const message = messages.get(state.messageId);
      if (!message) continue;
      items.push({
        message,
        retried: state.retried,
        dueAt: state.dueAt ?? message.notBefore,
        inFlight: state.leaseUntil !== undefined,
      });
    }
    return { items, ...(page.next !== undefined && { cursor: encodeCursor(page.next) }) };
  }
}
