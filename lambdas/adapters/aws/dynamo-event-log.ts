/**
 * The event log on DynamoDB. Events live in their message's partition (message-partition.ts),
 * in groups, one per write; this module owns the event index that lists them by time:
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | index item (one per write of event groups) | `EVT#<UTC hour>#<shard>` | `<time>#<writer token>` | `entries`: JSON `[[messageId, item sk], ...]`, `ttl` |
 *
 * A write of events (a settled batch, a publish of recorded messages, a cancel) first puts one
 * index item naming every group it will write, then writes the groups, each carrying the index
 * item's time and writer token and its entry's index. An entry whose group was never written (a
 * crash in between, a stale settlement) is skipped when listed. So one delivered batch of ten
 * messages costs ten outcome items and ONE index item.
 *
 * Order: by the position `<time>#<writer>#<entry>#<event>`, where the time is when the events
 * were recorded (a settlement's latest event time). A message SQS carries alone is recorded with
 * its first outcome, which is also when its CREATED event appears, at that position.
 *
 * Watermark: a listing by time shows only events recorded more than `watermarkMs` ago. Index
 * items are written within that time of the time they carry (a settlement's write follows its
 * last event by the batch's linger and one write), so a page, and the cursor after it, never
 * skips an index item written late, and eventually consistent reads of the index (half the
 * price) are safe. A listing by message id reads the messages' partitions with consistent reads
 * and shows everything at once.
 */
import type { LogEvent, Message, MessageState } from '../../core/message';
import { matchesMessageFilter } from '../../core/messages';
import type { Clock } from '../../ports/clock';
import type { EventLog, LogFilter, LogRecord } from '../../ports/event-log';
import type { ListOrder, ListQuery, Page } from '../../ports/listing';
import type { DynamoCalls, Item } from './dynamo-calls';
import { readParts } from './dynamo-payloads';
import type { EventGroup, MessageHistory } from './message-partition';
import { eventGroupsOf, historyOf, partitionKeys, readHistories } from './message-partition';
import { TABLE } from './table';
import type { KeyRange } from './time-index';
import {
  decodeCursor,
  encodeCursor,
  padTime,
  positionAtTime,
  rangeOfDates,
  shardOf,
  TimeIndex,
} from './time-index';

/** Event-index shards: 1,000 index items a second (10,000 msg/s) is 125 WCU per shard. */
export const EVENT_INDEX_SHARDS = 8;
/** Index items read per query while listing. */
const INDEX_PAGE = 50;
const DIGITS = /^\d+$/;
const EVENT_POSITION = /^\d{15}(#[0-9a-z]{16}#\d{3}#\d{2})?$/;

/** One entry of an index item: where its group is. */
export type IndexEntry = { readonly messageId: string; readonly item: string };

/** The event index: where every write of events is announced before it is made. */
export class EventIndex {
  readonly #calls: DynamoCalls;
  readonly index: TimeIndex;

  constructor(calls: DynamoCalls) {
    this.#calls = calls;
    this.index = new TimeIndex(calls, 'EVT', EVENT_INDEX_SHARDS);
  }

  /** Puts the index item of a write made at `at` by writer `w`; call before writing groups. */
  async announce(
    at: number,
    w: string,
    entries: readonly IndexEntry[],
    ttl: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.index.register([at], ttl);
    await this.#calls.put({
      ...this.index.key(at, sortKey(at, w), shardOf(w, EVENT_INDEX_SHARDS)),
      entries: JSON.stringify(entries.map((entry) => [entry.messageId, entry.item])),
      [TABLE.ttlAttribute]: ttl,
    });
  }
}

export type DynamoEventLogOptions = {
  readonly clock: Clock;
  /** How long after they are recorded events appear in listings by time. @default 5000 */
  readonly watermarkMs?: number;
  /** Most events a listing examines for one page before answering with what it found. @default 2000 */
  readonly maxExaminedPerPage?: number;
};

const DEFAULT_WATERMARK_MS = 5_000;
const DEFAULT_MAX_EXAMINED = 2_000;

/** An event as listed: where it is in the log, with the message it echoes. */
type Listed = { readonly position: string; readonly record: LogRecord };

export class DynamoEventLog implements EventLog {
  readonly #calls: DynamoCalls;
  readonly #index: EventIndex;
  readonly #clock: Clock;
  readonly #watermarkMs: number;
  readonly #maxExamined: number;

  constructor(calls: DynamoCalls, index: EventIndex, options: DynamoEventLogOptions) {
    this.#calls = calls;
    this.#index = index;
    this.#clock = options.clock;
    this.#watermarkMs = options.watermarkMs ?? DEFAULT_WATERMARK_MS;
    this.#maxExamined = options.maxExaminedPerPage ?? DEFAULT_MAX_EXAMINED;
  }

  async listEvents(query: ListQuery<LogFilter>): Promise<Page<LogRecord>> {
    const { filter, order } = query;
    if (filter.messageIds?.length === 0 || filter.states?.length === 0) return { items: [] };
    const after = readCursor(query.cursor, order);
    const range = rangeOfDates(filter);
    const inRange = (position: string) =>
      position.slice(0, 15) >= range.lo &&
      position.slice(0, 15) < range.hi &&
      (after === undefined || (order === 'earliestFirst' ? position > after : position < after));
    const matches = (event: LogEvent, message: Message) =>
      (filter.states === undefined || filter.states.includes(event.state as MessageState)) &&
      matchesMessageFilter(message, filter);
    const found: Listed[] = [];
    const accept = (listed: Listed): boolean => {
      if (inRange(listed.position) && matches(listed.record.event, listed.record.message!)) {
        found.push(listed);
      }
      return found.length > query.count;
    };
    let stoppedAt: string | undefined;
    if (filter.messageIds !== undefined) {
      const histories = await readHistories(this.#calls, filter.messageIds);
      const all = [...histories.values()].flatMap(listedOf);
      all.sort((a, b) => compare(a.position, b.position, order));
      for (const listed of all) if (accept(listed)) break;
    } else {
      stoppedAt = await this.#byTime(order, this.#indexRange(range, order, after), accept);
    }
    const page = found.slice(0, query.count);
    // More than a page found: go on after its last event; out of budget: after what was seen.
    const cursor = found.length > query.count ? page.at(-1)!.position : stoppedAt;
    return {
      items: page.map(({ record }) => record),
      ...(cursor !== undefined && { cursor: encodeCursor(cursor) }),
    };
  }

  /**
   * Hands `accept` the events of the index items in `range`, in order, until it answers that the
   * page is full or the work budget is spent; resolves, in the second case, with the position to
   * go on from (everything up to it was looked at).
   */
  async #byTime(
    order: ListOrder,
    range: KeyRange,
    accept: (listed: Listed) => boolean,
  ): Promise<string | undefined> {
    let examined = 0;
    let batch: Item[] = [];
    const drain = async (): Promise<{ stop: boolean; at?: string }> => {
      const listed = (await this.#expand(batch)).sort((a, b) =>
        compare(a.position, b.position, order),
      );
      batch = [];
      for (const entry of listed) {
        examined += 1;
        if (accept(entry)) return { stop: true };
        if (examined >= this.#maxExamined) return { stop: true, at: entry.position };
      }
      return { stop: false };
    };
    const items = this.#index.index.items(order, range, {
      pageSize: INDEX_PAGE,
      consistent: false,
    });
    for await (const item of items) {
      batch.push(item);
      if (batch.length < INDEX_PAGE) continue;
      const result = await drain();
      if (result.stop) return result.at;
    }
    return batch.length > 0 ? (await drain()).at : undefined;
  }

  /** The events of index items, in position order, each with its message. */
  async #expand(indexItems: readonly Item[]): Promise<Listed[]> {
    const wanted: { at: number; w: string; i: number; messageId: string; item: string }[] = [];
    for (const indexItem of indexItems) {
      const sk = indexItem[TABLE.sortKey] as string;
      const at = Number(sk.slice(0, 15));
      const w = sk.slice(16);
      const entries = JSON.parse(indexItem.entries as string) as [string, string][];
      for (const [i, [messageId, item]] of entries.entries())
        wanted.push({ at, w, i, messageId, item });
    }
    const keys = new Map<string, { pk: string; sk: string }>();
    for (const { messageId, item } of wanted) {
      const pk = partitionKeys.partition(messageId);
      keys.set(`${pk}|${item}`, { pk, sk: item });
      // The record holds the body a log item may not: it is what the log echoes.
      const record = partitionKeys.record(messageId);
      keys.set(`${record.pk}|${record.sk}`, record);
    }
    const items = await this.#calls.batchGet([...keys.values()], false);
    const byPartition = new Map<string, Item[]>();
    const add = (item: Item) => {
      const pk = item[TABLE.partitionKey] as string;
      byPartition.set(pk, [...(byPartition.get(pk) ?? []), item]);
    };
    for (const item of items) add(item);
    const withParts = items.filter((item) => item.dataParts || item.bodyParts);
    for (const item of withParts) {
      const pk = item[TABLE.partitionKey] as string;
      for (const part of await readParts(this.#calls, pk, item[TABLE.sortKey] as string)) add(part);
    }
    const histories = new Map<string, MessageHistory>();
    for (const [pk, partition] of byPartition) {
      const messageId = pk.slice('MSG#'.length);
      const history = historyOf(messageId, partition);
      if (history) histories.set(messageId, history);
    }
    const listed: Listed[] = [];
    for (const { at, w, i, messageId, item } of wanted) {
      const history = histories.get(messageId);
      if (!history) continue;
      const group = eventGroupsOf(history).find(
        (found) => found.item === item && found.group.w === w && found.group.i === i,
      )?.group;
      if (!group || group.at !== at) continue;
      listed.push(...groupEvents(group, echoOf(history, item)));
    }
    return listed;
  }

  /** The index keys to read: the dates, the cursor, and the watermark. */
  #indexRange(range: KeyRange, order: ListOrder, after: string | undefined): KeyRange {
    const watermark = padTime(this.#clock.now() - this.#watermarkMs);
    let { lo, hi } = range;
    if (watermark < hi) hi = watermark;
    if (after !== undefined) {
      // The item a cursor points into may still hold events after it.
      const item = after.slice(0, 32);
      if (order === 'earliestFirst' && item > lo) lo = item;
      if (order === 'latestFirst' && `${item}~` < hi) hi = `${item}~`;
    }
    return { lo, hi };
  }
}

function sortKey(at: number, w: string): string {
  return `${padTime(at)}#${w}`;
}

/** Every event of a message's history, each at its position. */
function listedOf(history: MessageHistory): Listed[] {
  return eventGroupsOf(history).flatMap(({ item, group }) =>
    groupEvents(group, echoOf(history, item)),
  );
}

function groupEvents(group: EventGroup, message: Message): Listed[] {
  return group.events.map((event, k) => ({
    position: `${sortKey(group.at, group.w)}#${String(group.i).padStart(3, '0')}#${String(k).padStart(2, '0')}`,
    record: { event, message },
  }));
}

/** The message an item's events echo: as recorded at publish when it was, else as the item holds it. */
function echoOf(history: MessageHistory, item: string): Message {
  if (history.record) return history.record.message;
  const retried = Number(item.slice('LOG#'.length));
  return history.logs.get(retried)?.message ?? [...history.logs.values()][0]!.message;
}

function compare(a: string, b: string, order: ListOrder): number {
  if (a === b) return 0;
  return a < b === (order === 'earliestFirst') ? -1 : 1;
}

/**
 * Reads a page cursor. A bare number is also accepted, as a time in ms to start from (inclusive),
 * since the JS SDK documents starting its paging loop with `cursor: Date.now()`.
 */
function readCursor(cursor: string | undefined, order: ListOrder): string | undefined {
  if (cursor === undefined) return undefined;
  if (DIGITS.test(cursor)) return positionAtTime(Number(cursor), order);
  return decodeCursor(cursor, EVENT_POSITION);
}
