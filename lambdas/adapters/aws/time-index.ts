/**
 * Time-ordered listings over DynamoDB without a hot partition and without a secondary index:
 * the items to list are written, on the base table, into hourly partitions spread over shards,
 * `<index>#<UTC hour>#<shard>`, sorted by a key that starts with a fixed-width time. A listing
 * walks the hours in order and merges the shards of each hour by sort key.
 *
 * Spreading: an hour's writes go to `shards` partitions instead of one. A partition takes about
 * 1,000 WCU a second, and time-ordered sort keys defeat DynamoDB's split-for-heat, so the shard
 * count is what bounds an index's write rate (README, "No hot partitions").
 *
 * Which hours hold anything is kept in a small directory partition (`DIR#<index>`, one item per
 * hour), written once per hour by each writer (it remembers the hours it registered) before the
 * items themselves. A listing therefore visits only hours that have items, however sparse the
 * history, and never scans the table.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BadRequestError } from '../../core/errors';
import type { ListOrder } from '../../ports/listing';
import type { DynamoCalls, Item } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE } from './table';

const TIME_DIGITS = 15;
/** 9999-12-31T23:59:59.999Z: positions and hour buckets are defined up to here. */
export const MAX_TIME_MS = 253_402_300_799_999;
const DIRECTORY_PAGE = 100;
/** A directory entry outlives the first item of its hour by the hour, and a day to spare. */
const DIRECTORY_TTL_MARGIN_SEC = 25 * 3600;
const PK = TABLE.partitionKey;
const SK = TABLE.sortKey;

/** A time as the fixed-width digits keys start with, so string order is time order. */
export function padTime(timeMs: number): string {
  return String(Math.min(Math.max(Math.trunc(timeMs), 0), MAX_TIME_MS + 1)).padStart(
    TIME_DIGITS,
    '0',
  );
}

/** The time a key or position starts with. */
export function timeOfKey(key: string): number {
  return Number(key.slice(0, TIME_DIGITS));
}

/** The UTC hour a time falls in, as `YYYY-MM-DDTHH`: sortable and readable in the console. */
export function hourBucket(timeMs: number): string {
  return new Date(Math.min(Math.max(timeMs, 0), MAX_TIME_MS)).toISOString().slice(0, 13);
}

/** A stable shard in [0, shards) for an id. */
export function shardOf(id: string, shards: number): number {
  return createHash('md5').update(id).digest().readUInt32BE(0) % shards;
}

// Writer tokens order the writes of one millisecond by the order this process made them;
// across processes, same-millisecond writes have no defined order, and the writer id decides.
const WRITER_ID = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0');
let written = 0;

/** A token unique to one write, sorting after this process's earlier ones: 16 characters. */
export function nextWriterToken(): string {
  written += 1;
  return `${written.toString(36).padStart(8, '0')}${WRITER_ID}`;
}

/** Inclusive bounds on sort keys: everything from `lo` to `hi`. */
export type KeyRange = { readonly lo: string; readonly hi: string };

/** The keys from `fromDate` to `toDate` (inclusive, ms), or all. */
export function rangeOfDates(bounds: {
  readonly fromDate?: number;
  readonly toDate?: number;
}): KeyRange {
  return {
    lo: padTime(bounds.fromDate ?? 0),
    hi: padTime(bounds.toDate === undefined ? MAX_TIME_MS + 1 : bounds.toDate + 1),
  };
}

/**
 * `range` narrowed to what lies past `after` (a page's cursor) in `order`; positions are
 * fixed-width, so string order is time order.
 */
export function rangePast(range: KeyRange, after: string | undefined, order: ListOrder): KeyRange {
  if (after === undefined) return range;
  return order === 'earliestFirst'
    ? { lo: range.lo > after ? range.lo : after, hi: range.hi }
    : { lo: range.lo, hi: range.hi < after ? range.hi : after };
}

/** The position a bare time in ms starts a list at, inclusive: `cursor: Date.now()` in SDKs. */
export function positionAtTime(timeMs: number, order: ListOrder): string {
  return order === 'earliestFirst' ? padTime(timeMs) : padTime(timeMs + 1);
}

/** Cursors are base64url of a position: opaque to clients, readable by every instance. */
export function encodeCursor(position: string): string {
  return Buffer.from(position, 'utf8').toString('base64url');
}

/** Reads a cursor this module made; a cursor whose position fails `pattern` is refused (400). */
export function decodeCursor(cursor: string, pattern: RegExp): string {
  const position = Buffer.from(cursor, 'base64url').toString('utf8');
  if (encodeCursor(position) === cursor && pattern.test(position)) return position;
  throw new BadRequestError(
    `invalid cursor "${cursor}": pass back the cursor of the previous page unchanged`,
  );
}

/** One time index on the base table (`EVT` for events, `DLQX` for dead letters). */
export class TimeIndex {
  readonly #calls: DynamoCalls;
  readonly #name: string;
  readonly shards: number;
  readonly #registered = new Set<string>();

  constructor(calls: DynamoCalls, name: string, shards: number) {
    this.#calls = calls;
    this.#name = name;
    this.shards = shards;
  }

  /** The key of an item at `timeMs`, sorted by `sortKey` (which starts with padTime). */
  key(timeMs: number, sortKey: string, shard: number): { pk: string; sk: string } {
    return { pk: this.#partition(hourBucket(timeMs), shard), sk: sortKey };
  }

  /**
   * Makes sure the directory lists the hours of these times; call before writing the items.
   * An hour is listed until `ttl` (epoch seconds), the latest of its items' (a later write of
   * the same hour does not extend it: index items of one hour expire within a day of each
   * other, and the directory entry waits for the last).
   */
  async register(timesMs: readonly number[], ttl: number): Promise<void> {
    const hours = [...new Set(timesMs.map(hourBucket))].filter((h) => !this.#registered.has(h));
    await Promise.all(
      hours.map(async (hour) => {
        await this.#calls.put({
          [PK]: this.#directory(),
          [SK]: hour,
          [TABLE.ttlAttribute]: ttl + DIRECTORY_TTL_MARGIN_SEC,
        });
        this.#registered.add(hour);
      }),
    );
  }

  /**
   * Every item whose sort key is in `range`, in sort-key order (`order`), read page by page as
   * the caller takes them: each hour's shards are queried side by side and merged. Index items
   * are written once and never change, so `consistent: false` (half the price) can only miss
   * the last moments' writes, which the event log's watermark keeps out of its listings anyway.
   */
  async *items(
    order: ListOrder,
    range: KeyRange,
    options: { readonly pageSize: number; readonly consistent: boolean },
  ): AsyncGenerator<Item> {
    if (range.lo > range.hi) return;
    for await (const hour of this.#hours(order, range)) {
      const partitions = Array.from({ length: this.shards }, (_, shard) =>
        this.#partition(hour, shard),
      );
      yield* mergedByKey(this.#calls, partitions, order, range, options);
    }
  }

  async *#hours(order: ListOrder, range: KeyRange): AsyncGenerator<string> {
    const first = hourBucket(timeOfKey(range.lo));
    const last = hourBucket(timeOfKey(range.hi));
    if (first > last) return;
    let startKey: Record<string, unknown> | undefined;
    do {
      const builder = new ExpressionBuilder();
      const output = await this.#calls.queryPage({
        KeyConditionExpression: `${builder.name(PK)} = ${builder.value(this.#directory())} AND ${builder.name(SK)} BETWEEN ${builder.value(first)} AND ${builder.value(last)}`,
        ...builder.parts(),
        ScanIndexForward: order === 'earliestFirst',
        ConsistentRead: true,
        Limit: DIRECTORY_PAGE,
        ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
      });
      for (const item of output.Items ?? []) yield item[SK] as string;
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  #partition(hour: string, shard: number): string {
    return `${this.#name}#${hour}#${shard}`;
  }

  #directory(): string {
    return `DIR#${this.#name}`;
  }
}

/**
 * The items of `partitions` whose sort key is in `range`, merged into one sort-key order: each
 * partition is read a page at a time, side by side with the others, as the caller takes items.
 */
export async function* mergedByKey(
  calls: DynamoCalls,
  partitions: readonly string[],
  order: ListOrder,
  range: KeyRange,
  options: { readonly pageSize: number; readonly consistent: boolean },
): AsyncGenerator<Item> {
  if (range.lo > range.hi) return;
  const ascending = order === 'earliestFirst';
  const readers = partitions.map(
    (partition) =>
      new ShardReader(calls, partition, range, { ascending, consistent: options.consistent }),
  );
  for (;;) {
    await Promise.all(readers.map((reader) => reader.fill(options.pageSize)));
    let next: ShardReader | undefined;
    for (const reader of readers) {
      const head = reader.head();
      if (head === undefined) continue;
      const best = next?.head();
      if (best === undefined || (ascending ? head < best : head > best)) next = reader;
    }
    if (!next) return;
    yield next.take();
  }
}

/** One partition of an index, read a page at a time. */
class ShardReader {
  readonly #calls: DynamoCalls;
  readonly #partition: string;
  readonly #range: KeyRange;
  readonly #ascending: boolean;
  readonly #consistent: boolean;
  #buffer: Item[] = [];
  #startKey: Record<string, unknown> | undefined;
  #done = false;

  constructor(
    calls: DynamoCalls,
    partition: string,
    range: KeyRange,
    options: { readonly ascending: boolean; readonly consistent: boolean },
  ) {
    this.#calls = calls;
    this.#partition = partition;
    this.#range = range;
    this.#ascending = options.ascending;
    this.#consistent = options.consistent;
  }

  head(): string | undefined {
    return this.#buffer[0]?.[SK] as string | undefined;
  }

  take(): Item {
    return this.#buffer.shift()!;
  }

  async fill(pageSize: number): Promise<void> {
    while (this.#buffer.length === 0 && !this.#done) {
      const builder = new ExpressionBuilder();
      const output = await this.#calls.queryPage({
        KeyConditionExpression: `${builder.name(PK)} = ${builder.value(this.#partition)} AND ${builder.name(SK)} BETWEEN ${builder.value(this.#range.lo)} AND ${builder.value(this.#range.hi)}`,
        ...builder.parts(),
        ScanIndexForward: this.#ascending,
        ConsistentRead: this.#consistent,
        Limit: pageSize,
        ...(this.#startKey !== undefined && { ExclusiveStartKey: this.#startKey }),
      });
      this.#buffer = output.Items ?? [];
      this.#startKey = output.LastEvaluatedKey;
      this.#done = this.#startKey === undefined;
    }
  }
}
