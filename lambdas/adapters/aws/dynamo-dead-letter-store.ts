/**
 * The dead-letter queue on DynamoDB:
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | dead letter | `DLQ#<dlqId>` | `DLQ` | the dead letter's fields, the whole message (body in parts when large), the last response body, `ttl` |
 * | index entry | `DLQX#<UTC hour>#<shard>` | `<failedAt>#<dlqId>` | the attributes the filters match on, `ttl` |
 *
 * A dead letter is written by the settlement that failed its message, in one transaction with
 * the outcome item that commits the settlement (dynamo-message-store.ts), so a stale
 * settlement never leaves one. Both items carry a `ttl` of `sqstash:retention` after the failure.
 * The index (time-index.ts, 16 shards: a failure rate of 10,000 a second is 625 WCU per shard)
 * lists them by failure time; the filters run in code over the index entries, and the page's
 * dead letters are then read by key.
 *
 * Deleting and retrying are atomic per entry. A retry first checks that every entry is there
 * and changes nothing when one is missing, as the port asks; then it publishes the replacements
 * (SQS takes them 10 per call) and removes the entries, so only an entry removed concurrently
 * while a larger batch is being retried can leave it half done.
 */
import type { DeadLetter, Message } from '../../core/message';
import { matchesMessageFilter } from '../../core/messages';
import type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterReplacement,
  DeadLetterStore,
} from '../../ports/dead-letter-store';
import type { ListOrder, ListQuery, Page } from '../../ports/listing';
import type { InsertResult, NewMessage } from '../../ports/message-store';
import type { DynamoCalls, Item, Key } from './dynamo-calls';
import { deleteIfThere, mapLimit, PARALLEL_CALLS } from './dynamo-calls';
import {
  joinPayload,
  newPartsTag,
  partKeys,
  readParts,
  SMALL_INLINE_BYTES,
  splitPayload,
} from './dynamo-payloads';
import { filterAttributes, filterableMessage } from './pending-index';
import { TABLE } from './table';
import {
  decodeCursor,
  encodeCursor,
  padTime,
  rangeOfDates,
  rangePast,
  shardOf,
  TimeIndex,
} from './time-index';

export const DLQ_INDEX_SHARDS = 16;
const DLQ_SK = 'DLQ';
const POSITION = /^\d{15}(#.+)?$/s;
const DEFAULT_MAX_EXAMINED = 2_000;
const INDEX_PAGE = 100;

/** Publishes the messages a retry replaces dead letters with (the message store's insert). */
export type Publish = (messages: readonly NewMessage[], nowMs: number) => Promise<InsertResult[]>;

export class DynamoDeadLetterStore implements DeadLetterStore {
  readonly #calls: DynamoCalls;
  readonly index: TimeIndex;
  readonly #publish: Publish;
  readonly #maxExamined: number;

  constructor(
    calls: DynamoCalls,
    publish: Publish,
    options: { readonly maxExaminedPerPage?: number } = {},
  ) {
    this.#calls = calls;
    this.index = new TimeIndex(calls, 'DLQX', DLQ_INDEX_SHARDS);
    this.#publish = publish;
    this.#maxExamined = options.maxExaminedPerPage ?? DEFAULT_MAX_EXAMINED;
  }

  /**
   * The items recording a dead letter of `message`: the parts to write first, then the dead
   * letter and its index entry, which go in the settlement's transaction.
   */
  async prepare(
    deadLetter: DeadLetter,
    message: Message,
    ttl: number,
  ): Promise<{ parts: Item[]; item: Item; indexItem: Item }> {
    await this.index.register([deadLetter.failedAt], ttl);
    const key = itemKey(deadLetter.dlqId);
    const { body, ...fields } = message;
    const data = JSON.stringify({
      responseHeader: deadLetter.responseHeader,
      ...(deadLetter.error !== undefined && { error: deadLetter.error }),
      f: fields,
    });
    // The dead letter goes into the settlement's transaction, which bills every KB twice.
    const tag = newPartsTag();
    const response = splitPayload(key, 'R', deadLetter.responseBody, SMALL_INLINE_BYTES, {
      ttl,
      tag,
    });
    const messageBody = splitPayload(key, 'B', body, SMALL_INLINE_BYTES, { ttl, tag });
    const item: Item = {
      ...key,
      partsTag: tag,
      dlqId: deadLetter.dlqId,
      messageId: deadLetter.messageId,
      failedAt: deadLetter.failedAt,
      responseStatus: deadLetter.responseStatus,
      data,
      ...(response.inline.byteLength > 0 && { response: response.inline }),
      ...(response.parts.length > 0 && { responseParts: response.parts.length }),
      ...(messageBody.inline.byteLength > 0 && { body: messageBody.inline }),
      ...(messageBody.parts.length > 0 && { bodyParts: messageBody.parts.length }),
      [TABLE.ttlAttribute]: ttl,
    };
    const indexItem: Item = {
      ...this.#indexKey(deadLetter.failedAt, deadLetter.dlqId),
      ...filterAttributes(message),
      dlqId: deadLetter.dlqId,
      responseStatus: deadLetter.responseStatus,
      [TABLE.ttlAttribute]: ttl,
    };
    return { parts: [...response.parts, ...messageBody.parts], item, indexItem };
  }

  async listDeadLetters(query: ListQuery<DeadLetterFilter>): Promise<Page<DeadLetterEntry>> {
    const { positions, cursor } = await this.#page(query);
    const entries = await this.#read(positions.map(dlqIdOf));
    return {
      items: positions.map(dlqIdOf).flatMap((dlqId) => entries.get(dlqId) ?? []),
      ...(cursor !== undefined && { cursor: encodeCursor(cursor) }),
    };
  }

  async getDeadLetter(dlqId: string): Promise<DeadLetterEntry | undefined> {
    return (await this.#read([dlqId])).get(dlqId);
  }

  async deleteDeadLetters(
    query: ListQuery<DeadLetterFilter>,
  ): Promise<{ deleted: number; cursor?: string }> {
    const { positions, cursor } = await this.#page(query);
    let deleted = 0;
    await mapLimit(positions, PARALLEL_CALLS, async (position) => {
      if (await this.#remove(dlqIdOf(position))) deleted += 1;
    });
    return { deleted, ...(cursor !== undefined && { cursor: encodeCursor(cursor) }) };
  }

  async replaceWithMessages(
    replacements: readonly DeadLetterReplacement[],
    nowMs: number,
  ): Promise<{ missing: string[] }> {
    const found = await this.#read(replacements.map(({ dlqId }) => dlqId));
    const missing = replacements.map(({ dlqId }) => dlqId).filter((dlqId) => !found.has(dlqId));
    if (missing.length > 0) return { missing };
    await this.#publish(
      replacements.map(({ message }) => ({ message })),
      nowMs,
    );
    await mapLimit(replacements, PARALLEL_CALLS, ({ dlqId }) => this.#remove(dlqId));
    return { missing: [] };
  }

  /** The positions (index sort keys) of one page, and where the next starts. */
  async #page(
    query: ListQuery<DeadLetterFilter>,
  ): Promise<{ positions: string[]; cursor?: string }> {
    const { filter, order, count } = query;
    if (filter.dlqIds?.length === 0 || filter.responseStatus?.length === 0)
      return { positions: [] };
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, POSITION);
    const { lo, hi } = rangeOfDates(filter);
    const found: string[] = [];
    const accept = (position: string, index: IndexView) => {
      const beyond =
        after === undefined || (order === 'earliestFirst' ? position > after : position < after);
      if (beyond && position >= lo && position < hi && matches(filter, index)) found.push(position);
      return found.length > count;
    };
    let stoppedAt: string | undefined;
    if (filter.dlqIds !== undefined) {
      const entries = await this.#read(filter.dlqIds);
      const positions = [...entries.values()]
        .map((entry) => ({
          position: sortKey(entry.deadLetter.failedAt, entry.deadLetter.dlqId),
          view: viewOf(entry),
        }))
        .sort((a, b) => compare(a.position, b.position, order));
      for (const { position, view } of positions) if (accept(position, view)) break;
    } else {
      const range = rangePast({ lo, hi }, after, order);
      let examined = 0;
      for await (const item of this.index.items(order, range, {
        pageSize: INDEX_PAGE,
        consistent: true,
      })) {
        const position = item[TABLE.sortKey] as string;
        examined += 1;
        if (accept(position, item as unknown as IndexView)) break;
        if (examined >= this.#maxExamined) {
          stoppedAt = position;
          break;
        }
      }
    }
    const positions = found.slice(0, count);
    const cursor = found.length > count ? positions.at(-1) : stoppedAt;
    return { positions, ...(cursor !== undefined && { cursor }) };
  }

  /** Dead letters by id, read consistently; those not found are left out. */
  async #read(dlqIds: readonly string[]): Promise<Map<string, DeadLetterEntry>> {
    const items = await this.#calls.batchGet([...new Set(dlqIds)].map(itemKey), true);
    const entries = new Map<string, DeadLetterEntry>();
    await mapLimit(items, PARALLEL_CALLS, async (item) => {
      const parts =
        item.responseParts || item.bodyParts
          ? await readParts(this.#calls, item[TABLE.partitionKey] as string, DLQ_SK)
          : [];
      entries.set(item.dlqId as string, decode(item, parts));
    });
    return entries;
  }

  /** Removes a dead letter, its index entry and its parts; false when it was not there. */
  async #remove(dlqId: string): Promise<boolean> {
    // Gone already (undefined): deleted or retried by someone else.
    const removed = await deleteIfThere(this.#calls, itemKey(dlqId));
    if (!removed) return false;
    await this.#calls.batchWrite(
      [],
      [
        this.#indexKey(removed.failedAt as number, dlqId),
        ...partKeys(removed, 'R', (removed.responseParts as number | undefined) ?? 0),
        ...partKeys(removed, 'B', (removed.bodyParts as number | undefined) ?? 0),
      ],
    );
    return true;
  }

  #indexKey(failedAt: number, dlqId: string): Key {
    return this.index.key(failedAt, sortKey(failedAt, dlqId), shardOf(dlqId, DLQ_INDEX_SHARDS));
  }
}

/** What the filters look at: an index entry, or a dead letter read by id. */
type IndexView = Pick<
  Message,
  | 'messageId'
  | 'url'
  | 'topicName'
  | 'queueName'
  | 'scheduleId'
  | 'callerIp'
  | 'labels'
  | 'flowControl'
> & { readonly dlqId: string; readonly responseStatus: number };

function viewOf(entry: DeadLetterEntry): IndexView {
  return {
    ...entry.message,
    dlqId: entry.deadLetter.dlqId,
    responseStatus: entry.deadLetter.responseStatus,
  };
}

function matches(filter: DeadLetterFilter, view: IndexView): boolean {
  if (filter.dlqIds !== undefined && !filter.dlqIds.includes(view.dlqId)) return false;
  if (filter.responseStatus !== undefined && !filter.responseStatus.includes(view.responseStatus)) {
    return false;
  }
  return matchesMessageFilter(filterableMessage(view), filter);
}

function itemKey(dlqId: string): Key {
  return { pk: `DLQ#${dlqId}`, sk: DLQ_SK };
}

function sortKey(failedAt: number, dlqId: string): string {
  return `${padTime(failedAt)}#${dlqId}`;
}

function dlqIdOf(position: string): string {
  return position.slice(16);
}

function compare(a: string, b: string, order: ListOrder): number {
  if (a === b) return 0;
  return a < b === (order === 'earliestFirst') ? -1 : 1;
}

/** Reads a dead letter item (and its parts) back. */
export function decode(item: Item, parts: readonly Item[]): DeadLetterEntry {
  const { responseHeader, error, f } = JSON.parse(item.data as string) as {
    responseHeader: DeadLetter['responseHeader'];
    error?: string;
    f: Omit<Message, 'body'>;
  };
  return {
    deadLetter: {
      dlqId: item.dlqId as string,
      messageId: item.messageId as string,
      failedAt: item.failedAt as number,
      responseStatus: item.responseStatus as number,
      responseHeader,
      responseBody: joinPayload(item.response as Uint8Array | undefined, item, 'R', parts),
      ...(error !== undefined && { error }),
    },
    message: { ...f, body: joinPayload(item.body as Uint8Array | undefined, item, 'B', parts) },
  };
}
