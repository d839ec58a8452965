/**
 * Time-ordered listings over DynamoDB (the event log and the DLQ), without a hot partition.
 *
 * Every listed item has a *position*: `<time, 15 digits>#<tiebreak>`, unique, so that string
 * order is (time, tiebreak) order. It is written as the item's `gsi1sk`. A position with no
 * tiebreak, `<time>` alone, sorts before every item of that millisecond and after every earlier
 * one; cursors use such positions to say "everything before time T is done".
 *
 * Writes are spread: `gsi1pk` is `<index>#<UTC hour>#<shard>`, the shard a hash of the item's
 * message or dead letter id, so one hour's writes go to `shards` GSI partitions instead of one
 * (a GSI partition takes about 1,000 writes a second, and time-ordered sort keys defeat
 * DynamoDB's split-for-heat). Reads walk the hours in order and merge the shards of each hour.
 *
 * Which hours hold anything is kept in a small directory partition (`DIR#<index>`, one item per
 * hour), written once per hour by each writer (it remembers the hours it registered), before the
 * items themselves. A listing therefore visits only hours that have items, however sparse the
 * history, and never scans the table.
 *
 * Work is bounded: a listing examines at most `maxExamined` items (a filter may reject most of
 * them) before it answers with what it found and a cursor to go on from, so a page may hold fewer
 * than `count` items and still have a cursor.
 */
import { createHash } from 'node:crypto';
import { BadRequestError } from '../../core/errors';
import type { ListOrder } from '../../ports/listing';
import type { DynamoCalls, Item } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE } from './table';

const TIME_DIGITS = 15;
/** 9999-12-31T23:59:59.999Z: positions and hour buckets are defined up to here. */
const MAX_TIME_MS = 253_402_300_799_999;
const HOUR_MS = 3_600_000;
const MIN_QUERY_LIMIT = 10;
const MIN_PROGRESS_LIMIT = 2;
const MAX_QUERY_LIMIT = 1_000;
const DIRECTORY_PAGE = 100;

/** A time as the fixed-width digits positions start with, so string order is time order. */
export function padTime(timeMs: number): string {
  return String(Math.min(Math.max(Math.trunc(timeMs), 0), MAX_TIME_MS + 1)).padStart(
    TIME_DIGITS,
    '0',
  );
}

/** The position of an item at `timeMs`, ordered after others of that ms by `tiebreak`. */
export function positionOf(timeMs: number, tiebreak: string): string {
  return `${padTime(timeMs)}#${tiebreak}`;
}

function timeOfPosition(position: string): number {
  return Number(position.slice(0, TIME_DIGITS));
}

/** The UTC hour a time falls in, as `YYYY-MM-DDTHH`: sortable and readable in the console. */
export function hourBucket(timeMs: number): string {
  return new Date(Math.min(Math.max(timeMs, 0), MAX_TIME_MS)).toISOString().slice(0, 13);
}

function hourStart(bucket: string): number {
  return Date.parse(`${bucket}:00:00.000Z`);
}

/** A stable shard in [0, shards) for an id. */
export function shardOf(id: string, shards: number): number {
  return createHash('md5').update(id).digest().readUInt32BE(0) % shards;
}

/** Inclusive position bounds, and the cursor position itself, which is never returned. */
export type PositionRange = {
  readonly lo: string;
  readonly hi: string;
  readonly after?: string;
};

/**
 * The range a list query covers: `fromDate`/`toDate` (inclusive, on the indexed time) and the
 * cursor, a position the list continues strictly after, in `order`.
 */
export function rangeOf(
  order: ListOrder,
  bounds: { readonly fromDate?: number; readonly toDate?: number },
  cursor: string | undefined,
): PositionRange {
  let lo = padTime(bounds.fromDate ?? 0);
  let hi = padTime(bounds.toDate === undefined ? MAX_TIME_MS + 1 : bounds.toDate + 1);
  if (cursor !== undefined) {
    if (order === 'earliestFirst' && cursor > lo) lo = cursor;
    if (order === 'latestFirst' && cursor < hi) hi = cursor;
  }
  return { lo, hi, ...(cursor !== undefined && { after: cursor }) };
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

/** Where a listing reads items from: one partition of the table or of gsi1, in position order. */
export type SourceSpec = {
  readonly indexName?: string;
  readonly partitionAttribute: string;
  readonly partition: string;
  readonly sortAttribute: string;
  /**
   * `range`: the sort key is `prefix + position`, bounded by the range. `exact`: one item, whose
   * position is read from `positionAttribute` and checked against the range here.
   */
  readonly sort: { readonly range: string } | { readonly exact: string };
  readonly consistent: boolean;
};

/** Sources read together and merged; a listing visits segments one after the other. */
export type Segment = {
  readonly sources: readonly SourceSpec[];
  /** The position at which everything in this and earlier segments is behind the listing. */
  readonly boundary?: string;
};

/** What `listByPosition` lists, in which order, and how much work it may do. */
export type ListingRequest = {
  readonly segments: AsyncIterable<Segment>;
  readonly order: ListOrder;
  readonly range: PositionRange;
  readonly count: number;
  /** The item attribute holding its position. */
  readonly positionAttribute: string;
  /** Adds a FilterExpression to a query; called once per query, with that query's builder. */
  readonly filter?: (builder: ExpressionBuilder) => string | undefined;
  readonly maxExamined: number;
};

/** One page of items, in listing order. */
export type ListingResult = {
  readonly items: Item[];
  /** The position to continue strictly after; absent when nothing is left. */
  readonly next?: string;
};

type SourceState = {
  readonly spec: SourceSpec;
  buffer: Item[];
  startKey?: Record<string, unknown>;
  done: boolean;
  /** Every item of this source up to here (in listing order) has been fetched. */
  frontier?: string;
};

/**
 * Lists items by position: a k-way merge of each segment's sources, segment after segment, until
 * `count + 1` items are found (the extra one only says that a next page exists), everything was
 * visited, or `maxExamined` items were examined.
 */
export async function listByPosition(
  calls: DynamoCalls,
  request: ListingRequest,
): Promise<ListingResult> {
  const { order, range, count, positionAttribute } = request;
  const ascending = order === 'earliestFirst';
  /** True when position `a` comes before `b` in this listing's order. */
  const before = (a: string, b: string) => (ascending ? a < b : a > b);
  const found: Item[] = [];
  let examined = 0;
  let passed: string | undefined;

  const full = () => found.length > count;
  const take = (item: Item) => {
    const position = item[positionAttribute] as string;
    if (position === range.after || position < range.lo || position > range.hi) return;
    found.push(item);
  };
  const page = (): ListingResult => {
    const items = found.slice(0, count);
    const last = items[items.length - 1];
    return { items, next: last?.[positionAttribute] as string };
  };
  const stopped = (next: string | undefined): ListingResult =>
    next === undefined ? { items: found } : { items: found, next };

  const fetch = async (state: SourceState, limit: number) => {
    const { spec } = state;
    const builder = new ExpressionBuilder();
    const conditions = [
      `${builder.name(spec.partitionAttribute)} = ${builder.value(spec.partition)}`,
    ];
    const sort = builder.name(spec.sortAttribute);
    if ('range' in spec.sort) {
      const lo = builder.value(spec.sort.range + range.lo);
      const hi = builder.value(spec.sort.range + range.hi);
      conditions.push(`${sort} BETWEEN ${lo} AND ${hi}`);
    } else {
      conditions.push(`${sort} = ${builder.value(spec.sort.exact)}`);
    }
    const filter = request.filter?.(builder);
    const output = await calls.queryPage({
      ...(spec.indexName !== undefined && { IndexName: spec.indexName }),
      KeyConditionExpression: conditions.join(' AND '),
      ...(filter !== undefined && { FilterExpression: filter }),
      ...builder.parts(),
      ScanIndexForward: ascending,
      ConsistentRead: spec.consistent,
      Limit: limit,
      ...(state.startKey !== undefined && { ExclusiveStartKey: state.startKey }),
    });
    examined += (output.ScannedCount ?? 0) + 1;
    state.buffer.push(...(output.Items ?? []));
    state.startKey = output.LastEvaluatedKey;
    state.done = state.startKey === undefined;
    if (state.startKey !== undefined && 'range' in spec.sort) {
      state.frontier = (state.startKey[spec.sortAttribute] as string).slice(spec.sort.range.length);
    }
  };

  for await (const segment of request.segments) {
    if (examined >= request.maxExamined) return stopped(passed);
    const states: SourceState[] = segment.sources.map((spec) => ({
      spec,
      buffer: [],
      done: range.lo > range.hi,
    }));
    for (;;) {
      const hungry = states.filter((state) => !state.done && state.buffer.length === 0);
      if (hungry.length > 0 && examined >= request.maxExamined) {
        // Out of budget: hand out what is known to be complete, up to the slowest source.
        const open = states.filter((state) => !state.done);
        if (open.some((state) => state.frontier === undefined)) return stopped(passed);
        const frontier = open
          .map((state) => state.frontier!)
          .reduce((slowest, position) => (before(position, slowest) ? position : slowest));
        for (;;) {
          const head = nextHead(states, before, positionAttribute);
          if (!head) break;
          const position = head.buffer[0]![positionAttribute] as string;
          if (before(frontier, position)) break;
          take(head.buffer.shift()!);
          if (full()) return page();
        }
        return stopped(frontier);
      }
      if (hungry.length > 0) {
        // Each source gets its share of what is left of the budget, and at least two items:
        // the range includes the cursor's own item (BETWEEN is inclusive), which is skipped, so
        // a second one makes sure every call moves on.
        const share = Math.floor((request.maxExamined - examined) / hungry.length);
        const wanted = Math.max(count + 1 - found.length, MIN_QUERY_LIMIT);
        const limit = Math.max(MIN_PROGRESS_LIMIT, Math.min(wanted, share, MAX_QUERY_LIMIT));
        await Promise.all(hungry.map((state) => fetch(state, limit)));
        continue;
      }
      const head = nextHead(states, before, positionAttribute);
      if (!head) break;
      take(head.buffer.shift()!);
      if (full()) return page();
    }
    passed = segment.boundary;
  }
  return { items: found };
}

function nextHead(
  states: readonly SourceState[],
  before: (a: string, b: string) => boolean,
  positionAttribute: string,
): SourceState | undefined {
  let best: SourceState | undefined;
  for (const state of states) {
    const item = state.buffer[0];
    if (!item) continue;
    if (
      !best ||
      before(item[positionAttribute] as string, best.buffer[0]![positionAttribute] as string)
    ) {
      best = state;
    }
  }
  return best;
}

/**
 * One time index on gsi1 (`EVT` for the event log, `DLQ` for dead letters): the keys its items
 * carry, the directory of its hours, and the segments a listing walks.
 */
export class TimeIndex {
  readonly #calls: DynamoCalls;
  readonly #name: string;
  readonly #shards: number;
  readonly #registered = new Set<string>();

  constructor(calls: DynamoCalls, name: string, shards: number) {
    this.#calls = calls;
    this.#name = name;
    this.#shards = shards;
  }

  /** The gsi1 keys of an item at `timeMs` with `position`, in the shard `shardId` picks. */
  keys(timeMs: number, position: string, shardId: string): Item {
    return {
      [TABLE.gsi1.partitionKey]: this.#partition(
        hourBucket(timeMs),
        shardOf(shardId, this.#shards),
      ),
      [TABLE.gsi1.sortKey]: position,
    };
  }

  /** Makes sure the directory lists the hours of these times; call before writing the items. */
  async register(timesMs: readonly number[]): Promise<void> {
    const hours = [...new Set(timesMs.map(hourBucket))].filter((h) => !this.#registered.has(h));
    await Promise.all(
      hours.map(async (hour) => {
        await this.#calls.put({ pk: this.#directory(), sk: hour });
        this.#registered.add(hour);
      }),
    );
  }

  /** The hours between the range's bounds that hold items, as segments of their shards. */
  async *segments(order: ListOrder, range: PositionRange): AsyncGenerator<Segment> {
    const first = hourBucket(timeOfPosition(range.lo));
    const last = hourBucket(timeOfPosition(range.hi));
    if (first > last) return;
    const ascending = order === 'earliestFirst';
    let startKey: Record<string, unknown> | undefined;
    do {
      const builder = new ExpressionBuilder();
      const output = await this.#calls.queryPage({
        KeyConditionExpression: `${builder.name(TABLE.partitionKey)} = ${builder.value(this.#directory())} AND ${builder.name(TABLE.sortKey)} BETWEEN ${builder.value(first)} AND ${builder.value(last)}`,
        ...builder.parts(),
        ScanIndexForward: ascending,
        ConsistentRead: true,
        Limit: DIRECTORY_PAGE,
        ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
      });
      for (const item of output.Items ?? []) {
        const hour = item[TABLE.sortKey] as string;
        const start = hourStart(hour);
        yield {
          sources: Array.from({ length: this.#shards }, (_, shard) => ({
            indexName: TABLE.gsi1.name,
            partitionAttribute: TABLE.gsi1.partitionKey,
            partition: this.#partition(hour, shard),
            sortAttribute: TABLE.gsi1.sortKey,
            sort: { range: '' },
            consistent: false,
          })),
          boundary: padTime(ascending ? start + HOUR_MS : start),
        };
      }
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

/** A listing of one segment: its sources are read side by side and merged. */
export async function* oneSegment(sources: readonly SourceSpec[]): AsyncGenerator<Segment> {
  yield { sources };
}
