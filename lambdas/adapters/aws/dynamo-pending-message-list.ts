import { matchesMessageFilter } from '../../core/messages';
import type { Clock } from '../../ports/clock';
import type { ListOrder, ListQuery, Page } from '../../ports/listing';
import type {
  PendingFilter,
  PendingMessage,
  PendingMessageList,
} from '../../ports/pending-message-list';
import type { DynamoCalls, Item } from './dynamo-calls';
import type { DynamoQueueStore } from './dynamo-queue-store';
import type { MessageHistory } from './message-partition';
import { nextAttempt, readHistories } from './message-partition';
import type { PendingIndex } from './pending-index';
import { filterableMessage } from './pending-index';
import { TABLE } from './table';
import { decodeCursor, encodeCursor, padTime, rangeOfDates, rangePast } from './time-index';

/** Positions: `<createdAt>#<messageId>`, the pending index's sort key. */
const POSITION = /^\d{15}#.+$/s;
/** Index entries read per page of each shard, and at most per listing call. */
const PAGE_SIZE = 50;
const MAX_EXAMINED = 2_000;

/**
 * Pending messages on DynamoDB: the pending index's entries (pending-index.ts: every recorded
 * message and every message waiting for a retry), merged across its shards by position and
 * filtered on the attributes they carry, then each message's history read to say where it
 * stands (an entry outlives its message's end by moments, and then drops out here).
 *
 * What the AWS runtime can say of a message differs from SQLite's in two ways (README, "What
 * is eventually visible"): a message SQS carries alone is listed only from its first outcome on
 * (a retry), and "in flight" means its attempt is due and handed to SQS (waiting to be received,
 * or being attempted): no write marks the moment an attempt starts, which is what keeps the
 * usual message at one DynamoDB write. A FIFO message is in flight once its queue started it.
 */
export class DynamoPendingMessageList implements PendingMessageList {
  readonly #calls: DynamoCalls;
  readonly #index: PendingIndex;
  readonly #queues: DynamoQueueStore;
  readonly #clock: Clock;

  constructor(options: {
    readonly calls: DynamoCalls;
    readonly index: PendingIndex;
    readonly queues: DynamoQueueStore;
    readonly clock: Clock;
  }) {
    this.#calls = options.calls;
    this.#index = options.index;
    this.#queues = options.queues;
    this.#clock = options.clock;
  }

  async listPendingMessages(query: ListQuery<PendingFilter>): Promise<Page<PendingMessage>> {
    const { filter, order, count } = query;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, POSITION);
    const { lo, hi } = rangeOfDates(filter);
    const range = rangePast({ lo, hi }, after, order);
    const candidates =
      filter.messageIds === undefined
        ? this.#index.entries(order, range, PAGE_SIZE)
        : this.#named(filter.messageIds, order, range);
    // Entries are read until one more than a page stands (so a next page is known to exist),
    // and their histories a batch at a time; a listing that examined MAX_EXAMINED entries stops
    // there, with a cursor after the last one.
    const found: { position: string; pending: PendingMessage }[] = [];
    let batch: Item[] = [];
    let examined = 0;
    let stoppedAfter: string | undefined;
    for await (const entry of candidates) {
      const position = entry[TABLE.sortKey] as string;
      if (position === after) continue;
      if (examined === MAX_EXAMINED) break;
      examined += 1;
      if (matches(entry, filter)) batch.push(entry);
      if (batch.length >= count + 1 - found.length) {
        found.push(...(await this.#standing(batch, filter)));
        batch = [];
        if (found.length > count) break;
      }
      stoppedAfter = position;
    }
    found.push(...(await this.#standing(batch, filter)));
    const items = found.slice(0, count);
    const cursor =
      found.length > count
        ? items.at(-1)!.position
        : examined === MAX_EXAMINED
          ? stoppedAfter
          : undefined;
    return {
      items: items.map(({ pending }) => pending),
      ...(cursor !== undefined && { cursor: encodeCursor(cursor) }),
    };
  }

  /** Named messages as index entries would be, in position order: read by id, not listed. */
  async *#named(
    messageIds: readonly string[],
    order: ListOrder,
    range: { readonly lo: string; readonly hi: string },
  ): AsyncGenerator<Item> {
    const histories = await readHistories(this.#calls, messageIds);
    const entries = [...histories.values()]
      .map((history) => entryOf(history))
      .filter((entry): entry is Item => {
        const position = entry?.[TABLE.sortKey] as string | undefined;
        return position !== undefined && position >= range.lo && position <= range.hi;
      })
      .sort((a, b) => compare(a[TABLE.sortKey] as string, b[TABLE.sortKey] as string, order));
    yield* entries;
  }

  /** Where each entry's message stands: pending ones, with their next attempt. */
  async #standing(
    entries: readonly Item[],
    filter: PendingFilter,
  ): Promise<{ position: string; pending: PendingMessage }[]> {
    if (entries.length === 0) return [];
    const now = this.#clock.now();
    const histories = await readHistories(
      this.#calls,
      entries.map((entry) => entry.messageId as string),
    );
    const started = await this.#startedInQueues([...histories.values()]);
    const standing: { position: string; pending: PendingMessage }[] = [];
    for (const entry of entries) {
      const history = histories.get(entry.messageId as string);
      const next = nextAttempt(history);
      if (next.kind !== 'pending') continue;
      const inFlight =
        next.dueAt <= now &&
        (history?.record?.fifo === undefined ||
          next.retried > 0 ||
          started.has(next.message.messageId));
      if (filter.inFlight !== undefined && filter.inFlight !== inFlight) continue;
      standing.push({
        position: entry[TABLE.sortKey] as string,
        pending: { message: next.message, retried: next.retried, dueAt: next.dueAt, inFlight },
      });
    }
    return standing;
  }

  /** The messages among these that hold a place in their FIFO queue. */
  async #startedInQueues(histories: readonly MessageHistory[]): Promise<Set<string>> {
    const names = new Set(
      histories.flatMap((history) => (history.record?.fifo ? [history.record.fifo.queue] : [])),
    );
    const started = new Set<string>();
    for (const name of names) {
      const state = await this.#queues.state(name);
      for (const messageId of Object.keys(state?.units ?? {})) started.add(messageId);
    }
    return started;
  }
}

/** A message's pending-index entry, as its history shows the message. */
function entryOf(history: MessageHistory): Item | undefined {
  const next = nextAttempt(history);
  if (next.kind !== 'pending') return undefined;
  const { message } = next;
  return {
    ...message,
    [TABLE.sortKey]: `${padTime(message.createdAt)}#${message.messageId}`,
  };
}

/** Whether an entry (pending-index attributes, labels only when any) passes the filters. */
function matches(entry: Item, filter: PendingFilter): boolean {
  return matchesMessageFilter(filterableMessage(entry), filter);
}

function compare(a: string, b: string, order: ListOrder): number {
  const ascending = a < b ? -1 : a > b ? 1 : 0;
  return order === 'earliestFirst' ? ascending : -ascending;
}
