import type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterReplacement,
  DeadLetterStore,
} from '../../ports/dead-letter-store';
import type { ListQuery, Page } from '../../ports/listing';
import type { Item, TransactItem } from './dynamo-calls';
import { MAX_TRANSACTION_ITEMS, TransactionConditionError } from './dynamo-calls';
import {
  allOf,
  ExpressionBuilder,
  MATCHES_NOTHING,
  messageFilterConditions,
} from './dynamo-expressions';
import type { DynamoStoreOptions } from './dynamo-message-table';
import {
  DEAD_LETTER_POSITION,
  DynamoMessageTable,
  FAILED,
  keys,
  mapLimit,
} from './dynamo-message-table';
import type { ListingResult } from './dynamo-time-index';
import {
  decodeCursor,
  encodeCursor,
  listByPosition,
  oneSegment,
  rangeOf,
} from './dynamo-time-index';
import { TABLE } from './table';

const POSITION = TABLE.gsi1.sortKey;
const PARALLEL_DELETES = 10;
/** A replacement takes at most 6 transaction items (2 removals, state, event, position, ...). */
const REPLACEMENTS_PER_TRANSACTION = Math.floor(MAX_TRANSACTION_ITEMS / 6);

/**
 * The dead-letter queue on DynamoDB. Entries are written by DynamoMessageStore.settleAttempt;
 * this store lists, reads, deletes and retries them. The list is a time index (by failure time,
 * then dlqId) sharded by hour, see dynamo-time-index.ts; `dlqIds` read their entries directly.
 *
 * Deleting and retrying are atomic per entry and per batch of REPLACEMENTS_PER_TRANSACTION
 * entries respectively: DynamoDB transactions hold 100 items. A retry first checks that every
 * entry is there and changes nothing when one is missing, as the port asks; only an entry removed
 * concurrently while a larger batch is being retried can leave it half done.
 */
export class DynamoDeadLetterStore implements DeadLetterStore {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async listDeadLetters(query: ListQuery<DeadLetterFilter>): Promise<Page<DeadLetterEntry>> {
    const page = await this.#page(query);
    return {
      items: await this.#entries(page.items),
      ...(page.next !== undefined && { cursor: encodeCursor(page.next) }),
    };
  }

  async getDeadLetter(dlqId: string): Promise<DeadLetterEntry | undefined> {
    const item = await this.#table.calls.get(keys.deadLetter(dlqId));
    return item && (await this.#entries([item]))[0];
  }

  async deleteDeadLetters(
    query: ListQuery<DeadLetterFilter>,
  ): Promise<{ deleted: number; cursor?: string }> {
    const page = await this.#page(query);
    let deleted = 0;
    await mapLimit(page.items, PARALLEL_DELETES, async (item) => {
      try {
        await this.#table.calls.transact(this.#removal(item));
      } catch (error) {
        // Gone already: deleted or retried by someone else.
        if (error instanceof TransactionConditionError && error.failedAt(0)) return;
        throw error;
      }
      deleted += 1;
      await this.#table.deleteDeadLetterParts(item);
    });
    return { deleted, ...(page.next !== undefined && { cursor: encodeCursor(page.next) }) };
  }

  async replaceWithMessages(
    replacements: readonly DeadLetterReplacement[],
    nowMs: number,
  ): Promise<{ missing: string[] }> {
    const missing = await this.#missing(replacements);
    if (missing.length > 0) return { missing };
    for (let start = 0; start < replacements.length; start += REPLACEMENTS_PER_TRANSACTION) {
      const batch = replacements.slice(start, start + REPLACEMENTS_PER_TRANSACTION);
      const found = await this.#table.calls.batchGet(
        batch.map(({ dlqId }) => keys.deadLetter(dlqId)),
        true,
      );
      const byId = new Map(found.map((item) => [item.dlqId as string, item]));
      const items: TransactItem[] = [];
      for (const { dlqId, message } of batch) {
        const entry = byId.get(dlqId);
        if (!entry) return { missing: await this.#missing(batch) };
        items.push(...this.#removal(entry));
        items.push(...(await this.#table.prepareCreation(message, nowMs)));
      }
      try {
        await this.#table.calls.transact(items);
      } catch (error) {
        if (!(error instanceof TransactionConditionError)) throw error;
        return { missing: await this.#missing(batch) };
      }
      await mapLimit(found, PARALLEL_DELETES, (item) => this.#table.deleteDeadLetterParts(item));
    }
    return { missing: [] };
  }

  /** The dlqIds of `replacements` that are not in the DLQ. */
  async #missing(replacements: readonly DeadLetterReplacement[]): Promise<string[]> {
    const found = await this.#table.calls.batchGet(
      [...new Set(replacements.map(({ dlqId }) => dlqId))].map(keys.deadLetter),
      true,
    );
    const present = new Set(found.map((item) => item.dlqId as string));
    return replacements.map(({ dlqId }) => dlqId).filter((dlqId) => !present.has(dlqId));
  }

  /** Removes a dead letter and the failed message's state, which only the dead letter needed. */
  #removal(entry: Item): TransactItem[] {
    const table = this.#table;
    return [
      table.conditional(
        'Delete',
        { Key: keys.deadLetter(entry.dlqId as string) },
        (b) => `attribute_exists(${b.name(TABLE.partitionKey)})`,
      ),
      table.conditional(
        'Delete',
        { Key: keys.state(entry.messageId as string) },
        (b) =>
          `attribute_not_exists(${b.name(TABLE.partitionKey)}) OR ${b.name('status')} = ${b.value(FAILED)}`,
      ),
    ];
  }

  async #page(query: ListQuery<DeadLetterFilter>): Promise<ListingResult> {
    const { filter, order, count } = query;
    const table = this.#table;
    const byIds = filter.dlqIds !== undefined;
    const { dlqIds: _dlqIds, ...rest } = filter;
    const conditions = (builder: ExpressionBuilder) =>
      messageFilterConditions(builder, byIds ? rest : filter, {
        extra: [
          { attribute: 'dlqId', values: byIds ? undefined : filter.dlqIds },
          { attribute: 'responseStatus', values: filter.responseStatus },
        ],
      });
    if (
      (byIds && filter.dlqIds!.length === 0) ||
      conditions(new ExpressionBuilder()) === MATCHES_NOTHING
    ) {
      return { items: [] };
    }
    const cursor =
      query.cursor === undefined ? undefined : decodeCursor(query.cursor, DEAD_LETTER_POSITION);
    const range = rangeOf(order, filter, cursor);
    const segments = byIds
      ? oneSegment(
          [...new Set(filter.dlqIds)].map((dlqId) => ({
            partitionAttribute: TABLE.partitionKey,
            partition: keys.deadLetter(dlqId).pk,
            sortAttribute: TABLE.sortKey,
            sort: { exact: keys.deadLetter(dlqId).sk },
            consistent: true,
          })),
        )
      : table.deadLetters.segments(order, range);
    return listByPosition(table.calls, {
      segments,
      order,
      range,
      count,
      positionAttribute: POSITION,
      filter: (builder) => allOf(conditions(builder) as string[]),
      maxExamined: table.maxExamined,
    });
  }

  /** Dead letters with the messages they hold; one whose record is gone is left out. */
  async #entries(items: readonly Item[]): Promise<DeadLetterEntry[]> {
    const messages = await this.#table.readRecords(items.map((item) => item.messageId as string));
    const entries: DeadLetterEntry[] = [];
    for (const item of items) {
      const message = messages.get(item.messageId as string);
      if (message) entries.push({ deadLetter: await this.#table.decodeDeadLetter(item), message });
    }
    return entries;
  }
}
