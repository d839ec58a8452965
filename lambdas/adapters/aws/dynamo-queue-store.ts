/**
 * FIFO queues on DynamoDB, pushed rather than polled:
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | directory entry | `QUEUES` | `<name>` | `name`, `createdAt` (what listQueues reads) |
 * | state | `QUEUE#<name>` | `STATE` | settings; `seq` (messages enqueued), `started`, `skipped` (canceled while waiting), `units` (who holds its places now), `hole`, `version` |
 * | waiting message | `QUEUE#<name>` | `POS#<seq>` | `messageId`, `dueAt`, `skipped` once passed over, `ttl` (the message itself is its record, message-partition.ts) |
 *
 * Publishing into a queue takes the next `seq` (an atomic ADD), records the message and puts
 * its place; nothing is sent to SQS for it until it may start, so a waiting message costs
 * nothing while it waits and can never run out of SQS receives. A message starts when a place
 * is free: `started` moves to its seq and it joins `units`; the SQS attempt entry is sent only
 * then. A retry keeps its unit; the final outcome of the message hands its place to the
 * callbacks it fired (they hold it until they end, as a message's callbacks do in every runtime)
 * or frees it, and whoever frees a place starts the queue's next message ("pumps"): the
 * settlement itself, a resume, or a `{"pump"}` entry the API sends when a publish finds a free
 * place. So the queue's lag, `seq - started - skipped + places held`, is one read.
 *
 * State changes are optimistic (`version`): read, change in code, write if unchanged. A pump
 * records which trigger started a message (`units[id].b`); that trigger, received again after a
 * crash between the start and the send, sends the entry again, so a start is never lost.
 *
 * One queue's state is one item, so one queue carries a few hundred messages a second (every
 * message changes it about three times); many queues spread over as many partitions.
 */
import type { Queue, QueueSettings, QueueStore } from '../../ports/queue-store';
import type { DynamoCalls, Item } from './dynamo-calls';
import { ConditionFailedError, DynamoStoreError, mapLimit, PARALLEL_CALLS } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE } from './table';

/** A queue's first messages start one at a time unless its parallelism says otherwise. */
export const DEFAULT_QUEUE_PARALLELISM = 1;
const DIRECTORY_PK = 'QUEUES';
const SEQ_DIGITS = 15;
/** Optimistic writes of one queue's state that lose to a concurrent one are tried this often. */
const STATE_ATTEMPTS = 20;
/** A place whose message was never written (its publish died) is passed over after this long. */
export const HOLE_GRACE_MS = 60_000;
const KNOWN_FOR_MS = 60_000;

/** Who holds a place: the seq of the place, and the trigger that started it. */
type Unit = { readonly s: number; readonly b: string };

/** A queue's state item. */
export type QueueState = {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly parallelism: number;
  readonly paused: boolean;
  readonly seq: number;
  readonly started: number;
  readonly skipped: number;
  readonly units: Readonly<Record<string, Unit>>;
  /** A place found without its message, and since when. */
  readonly hole?: { readonly seq: number; readonly since: number };
  readonly version: number;
};

/** The places held now: a message and its callbacks hold one together. */
export function placesHeld(state: QueueState): number {
  return new Set(Object.values(state.units).map((unit) => unit.s)).size;
}

/** Whether a message may start now. */
export function hasFreePlace(state: QueueState): boolean {
  return !state.paused && placesHeld(state) < state.parallelism && state.started < state.seq;
}

const keys = {
  directory: (name: string) => ({ pk: DIRECTORY_PK, sk: name }),
  state: (name: string) => ({ pk: `QUEUE#${name}`, sk: 'STATE' }),
  position: (name: string, seq: number) => ({
    pk: `QUEUE#${name}`,
    sk: `POS#${String(seq).padStart(SEQ_DIGITS, '0')}`,
  }),
};

export type DynamoQueueStoreOptions = {
  /** Sends a `{"pump"}` entry: the queue may start messages. */
  readonly wake: (queueName: string, delayMs?: number) => Promise<void>;
  /** Cancels waiting messages of a deleted queue (the message store's cancel). */
  readonly cancelWaiting: (messageIds: readonly string[], nowMs: number) => Promise<void>;
};

export class DynamoQueueStore implements QueueStore {
  readonly #calls: DynamoCalls;
  readonly #options: DynamoQueueStoreOptions;
  /** Queues known to exist, until when. */
  readonly #known = new Map<string, number>();

  constructor(calls: DynamoCalls, options: DynamoQueueStoreOptions) {
    this.#calls = calls;
    this.#options = options;
  }

  async upsertQueue(name: string, settings: Partial<QueueSettings>, nowMs: number): Promise<void> {
    const before = await this.state(name);
    const after = await this.mutate(name, nowMs, (state) => ({
      ...state,
      ...(settings.parallelism !== undefined && { parallelism: settings.parallelism }),
      ...(settings.paused !== undefined && { paused: settings.paused }),
      updatedAt: nowMs,
    }));
    await this.#putDirectory(name, after.createdAt);
    // Resumed, or given more places: its next messages may start.
    if (hasFreePlace(after) && (!before || !hasFreePlace(before))) await this.#options.wake(name);
  }

  async ensureQueue(name: string, nowMs: number): Promise<void> {
    // Every publish into a queue asks; a queue seen a moment ago need not be read again (one
    // deleted since is made again by `assign`, as a publish makes its queue).
    if ((this.#known.get(name) ?? 0) > nowMs) return;
    if (!(await this.state(name))) {
      await this.mutate(name, nowMs, (state) => state);
      await this.#putDirectory(name, nowMs);
    }
    this.#known.set(name, nowMs + KNOWN_FOR_MS);
  }

  async getQueue(name: string): Promise<Queue | undefined> {
    const state = await this.state(name);
    return state && queueOf(state);
  }

  async listQueues(): Promise<Queue[]> {
    const b = new ExpressionBuilder();
    const names = await this.#calls.queryAll({
      KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(DIRECTORY_PK)}`,
      ...b.parts(),
      ConsistentRead: true,
    });
    const states = await this.#calls.batchGet(
      names.map((item) => keys.state(item.name as string)),
      true,
    );
    return states
      .map((item) => queueOf(decodeState(item)))
      .sort((a, b2) => (a.name < b2.name ? -1 : a.name > b2.name ? 1 : 0));
  }

  /**
   * Deletes the queue. Its waiting messages are canceled; those whose attempt is under way
   * leave the queue and finish outside it, as in SQLite.
   */
  async deleteQueue(name: string, nowMs: number): Promise<boolean> {
    const state = await this.state(name);
    if (!state) return false;
    const waiting = await this.#waitingMessages(name, state.started + 1, state.seq);
    await this.#options.cancelWaiting(waiting, nowMs);
    await this.#calls.delete(keys.state(name));
    await this.#calls.delete(keys.directory(name));
    this.#known.delete(name);
    return true;
  }

  // ---- the FIFO flow, for the message store and the delivery function ----------------------

  async state(name: string): Promise<QueueState | undefined> {
    const item = await this.#calls.get(keys.state(name));
    return item && decodeState(item);
  }

  /**
   * Takes the next `count` places of the queue, in one atomic ADD (creating the queue when it is
   * missing); resolves with the last of them and the state after.
   */
  async assign(
    name: string,
    count: number,
    nowMs: number,
  ): Promise<{ seq: number; state: QueueState }> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const b = new ExpressionBuilder();
      try {
        const item = await this.#calls.update(keys.state(name), {
          UpdateExpression: `ADD ${b.name('seq')} ${b.value(count)}`,
          ConditionExpression: `attribute_exists(${b.name(TABLE.partitionKey)})`,
          ...b.parts(),
          ReturnValues: 'ALL_NEW',
        });
        const state = decodeState(item!);
        return { seq: state.seq, state };
      } catch (error) {
        // Deleted since the publish made sure it exists: a publish recreates its queue.
        if (!(error instanceof ConditionFailedError)) throw error;
        await this.ensureQueue(name, nowMs);
      }
    }
    throw new DynamoStoreError(`queue ${name} kept disappearing while a message was put in it`);
  }

  /** The item putting `messageId`, due at `dueAt`, in place `seq` (written after its record). */
  positionItem(
    name: string,
    seq: number,
    message: { messageId: string; notBefore: number },
    ttl: number,
  ): Item {
    return {
      ...keys.position(name, seq),
      messageId: message.messageId,
      dueAt: message.notBefore,
      [TABLE.ttlAttribute]: ttl,
    };
  }

  /**
   * What is in place `seq`: its message, and whether it was passed over already (canceled, or
   * ended, while it waited); undefined when the place has no item (yet).
   */
  async waitingAt(
    name: string,
    seq: number,
  ): Promise<{ messageId: string; dueAt: number; skipped: boolean } | undefined> {
    const item = await this.#calls.get(keys.position(name, seq));
    return (
      item && {
        messageId: item.messageId as string,
        dueAt: item.dueAt as number,
        skipped: item.skipped === true,
      }
    );
  }

  /**
   * Applies `change` to the queue's state, read fresh, until it is written without a concurrent
   * change in between; creates the state with the defaults when the queue is missing. A change
   * that returns the state as it was writes nothing.
   */
  async mutate(
    name: string,
    nowMs: number,
    change: (state: QueueState) => QueueState,
  ): Promise<QueueState> {
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt += 1) {
      const current = (await this.state(name)) ?? newState(name, nowMs);
      const next = change(current);
      if (next === current && current.version > 0) return current;
      const written = await this.write(current, next);
      if (written) return written;
    }
    throw new DynamoStoreError(
      `queue ${name}: its state kept changing under ${STATE_ATTEMPTS} writes`,
    );
  }

  /**
   * Writes `next` in place of `current` if nothing changed the state since `current` was read;
   * resolves with the state written, or undefined when another write came first.
   */
  async write(current: QueueState, next: QueueState): Promise<QueueState | undefined> {
    const written = { ...next, version: current.version + 1 };
    const b = new ExpressionBuilder();
    const condition =
      current.version === 0
        ? `attribute_not_exists(${b.name(TABLE.partitionKey)})`
        : `${b.name('version')} = ${b.value(current.version)}`;
    const assignments = Object.entries(stateFields(written)).map(
      ([field, value]) => `${b.name(field)} = ${b.value(value)}`,
    );
    try {
      await this.#calls.update(keys.state(next.name), {
        UpdateExpression: `SET ${assignments.join(', ')}${written.hole === undefined ? ` REMOVE ${b.name('hole')}` : ''}`,
        ConditionExpression: condition,
        ...b.parts(),
      });
      return written;
    } catch (error) {
      if (error instanceof ConditionFailedError) return undefined;
      throw error;
    }
  }

  /**
   * Frees `holder`'s place, handing it to `heirs` (a message's callbacks), if it held one;
   * resolves with the state after, and whether `holder` held a place.
   */
  async release(
    name: string,
    holder: string,
    heirs: readonly string[],
    by: string,
    nowMs: number,
  ): Promise<{ state: QueueState; released: boolean } | undefined> {
    if (!(await this.state(name))) return undefined;
    let released = false;
    const state = await this.mutate(name, nowMs, (current) => {
      const next = releaseIn(current, holder, heirs, by);
      released = next !== current;
      return next;
    });
    return { state, released };
  }

  /**
   * Passes over a waiting message that ended before it started (canceled): its place is marked,
   * so the pump passes it without starting it, and counted, so the lag leaves it out at once.
   */
  async skipWaiting(name: string, seq: number, nowMs: number): Promise<void> {
    const b = new ExpressionBuilder();
    try {
      await this.#calls.update(keys.position(name, seq), {
        UpdateExpression: `SET ${b.name('skipped')} = ${b.value(true)}`,
        ConditionExpression: `attribute_exists(${b.name(TABLE.partitionKey)}) AND attribute_not_exists(${b.name('skipped')})`,
        ...b.parts(),
      });
    } catch (error) {
      // Passed over already, or its queue deleted.
      if (error instanceof ConditionFailedError) return;
      throw error;
    }
    if (!(await this.state(name))) return;
    await this.mutate(name, nowMs, (state) =>
      seq > state.started ? { ...state, skipped: state.skipped + 1 } : state,
    );
  }

  async #putDirectory(name: string, createdAt: number): Promise<void> {
    await this.#calls.put({ ...keys.directory(name), name, createdAt });
  }

  async #waitingMessages(name: string, from: number, to: number): Promise<string[]> {
    if (from > to) return [];
    const b = new ExpressionBuilder();
    const items = await this.#calls.queryAll({
      KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(keys.state(name).pk)} AND ${b.name(TABLE.sortKey)} BETWEEN ${b.value(keys.position(name, from).sk)} AND ${b.value(keys.position(name, to).sk)}`,
      ...b.parts(),
      ConsistentRead: true,
    });
    const ids = items.map((item) => item.messageId as string);
    await mapLimit(items, PARALLEL_CALLS, (item) =>
      this.#calls.delete({
        pk: item[TABLE.partitionKey] as string,
        sk: item[TABLE.sortKey] as string,
      }),
    );
    return ids;
  }
}

/** `state` with `holder`'s place handed to `heirs`; the same state when it held none. */
export function releaseIn(
  state: QueueState,
  holder: string,
  heirs: readonly string[],
  by: string,
): QueueState {
  const unit = state.units[holder];
  if (!unit) return state;
  const { [holder]: _released, ...units }: Record<string, Unit> = state.units;
  for (const heir of heirs) units[heir] = { s: unit.s, b: by };
  return { ...state, units };
}

function newState(name: string, nowMs: number): QueueState {
  return {
    name,
    createdAt: nowMs,
    updatedAt: nowMs,
    parallelism: DEFAULT_QUEUE_PARALLELISM,
    paused: false,
    seq: 0,
    started: 0,
    skipped: 0,
    units: {},
    version: 0,
  };
}

/** The attributes a state change writes (`seq` only grows, by ADD, so it is left alone). */
function stateFields(state: QueueState): Record<string, unknown> {
  return {
    name: state.name,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    parallelism: state.parallelism,
    paused: state.paused,
    started: state.started,
    skipped: state.skipped,
    units: JSON.stringify(state.units),
    ...(state.hole && { hole: JSON.stringify(state.hole) }),
    version: state.version,
    ...(state.version === 1 && { seq: state.seq }),
  };
}

function decodeState(item: Item): QueueState {
  return {
    name: item.name as string,
    createdAt: item.createdAt as number,
    updatedAt: item.updatedAt as number,
    parallelism: item.parallelism as number,
    paused: item.paused as boolean,
    seq: (item.seq as number | undefined) ?? 0,
    started: (item.started as number | undefined) ?? 0,
    skipped: (item.skipped as number | undefined) ?? 0,
    units: item.units ? (JSON.parse(item.units as string) as Record<string, Unit>) : {},
    ...(typeof item.hole === 'string' && { hole: JSON.parse(item.hole) }),
    version: (item.version as number | undefined) ?? 0,
  };
}

function queueOf(state: QueueState): Queue {
  return {
    name: state.name,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    parallelism: state.parallelism,
    paused: state.paused,
    lag: Math.max(0, state.seq - state.started - state.skipped) + placesHeld(state),
  };
}
