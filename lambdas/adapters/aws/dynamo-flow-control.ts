/**
 * Flow control on DynamoDB, pushed rather than polled, like FIFO queues (dynamo-queue-store.ts):
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | directory entry | `FLOWKEYS` | `<key>` | `ttl` (what listKeys reads) |
 * | key state | `FLOW#<key>` | `STATE` | `settings`, `units` (attempts in flight), `starts` (the rate's counted starts), `lastRate`, `seq`/`started` (the waitlist), `wakeAt` (the rate timer), `cfg:<config>`/`new:<config>` (pending messages per configuration), `version`, `ttl` |
 * | waitlisted attempt | `FLOW#<key>` | `W#<seq>` | the attempt entry without its message, `ttl` |
 * | a pending message's due time | `FLOWDUE#<key>` | `<messageId>` | `dueAt`, `canceled`, `ttl` (what `waitListSize` counts) |
 * | global parallelism (only with a cap) | `FLOWGLOBAL` | `STATE` | `inFlight` over every key, `blocked` (keys waiting for room) |
 *
 * A flow-controlled message is recorded at publish, which counts it in its configuration's
 * `cfg:` (an atomic ADD) and puts its due time. Its attempt entry travels SQS as any other;
 * when the delivery function takes it, the key's state decides (core/flow-control-limits.ts,
 * the one place the semantics live): it starts now (a unit in `units`, a start in `starts`),
 * or it joins the waitlist (`W#<seq>`, written in one transaction with the state) and its entry
 * is deleted. A waiting message is not in SQS: it cannot run out of receives or be
 * dead-lettered unattempted, and costs nothing while it waits. Whatever frees a slot starts
 * the waitlist's next attempts in the same state write and then sends their entries: the
 * settlement that frees a parallelism slot, a resume, pin or rate reset (a `{"flow"}` entry from
 * the API), or the rate timer, a `{"flow"}` entry delayed to the instant the rate's sliding
 * window frees a slot (armed once per key: `wakeAt`). So nothing polls.
 *
 * State changes are optimistic (`version`, which the publish's ADD bumps too). A start made by
 * a trigger (an SQS message id, `units[id].b`) that is received again after a crash sends its
 * entries again, so a start is never lost. A final outcome deletes the message's due-time item
 * and decrements its configuration in one transaction, so a settlement replayed after a crash
 * counts once.
 *
 * One key's state item takes three writes per message (the publish's ADD, the start, the
 * settlement, a transaction: 4 WCU), so one key sustains about 250 messages a second; keys
 * spread over partitions.
 * With a global parallelism, one more item (`FLOWGLOBAL`) counts attempts in flight over every
 * key, in the same transaction as each start and settlement, and lists the keys waiting for
 * room; a settlement that frees room wakes them.
 */
import type { FlowControl } from '../../core/flow-control';
import { isIdleKey } from '../../core/flow-control-keys';
import type {
  Admission,
  FlowControlSettings,
  KeyLimits,
  PendingConfiguration,
  RateLimit,
  RateStart,
} from '../../core/flow-control-limits';
import {
  admit,
  countedStarts,
  effectiveLimits,
  settleCarriedValues,
} from '../../core/flow-control-limits';
import type { Message } from '../../core/message';
import type { Clock } from '../../ports/clock';
import type {
  FlowControlChange,
  FlowControlKeyRecord,
  FlowControlStore,
} from '../../ports/flow-control-store';
import type { DynamoCalls, Item, Key, TransactItem } from './dynamo-calls';
import {
  ConditionFailedError,
  DynamoStoreError,
  mapLimit,
  PARALLEL_CALLS,
  TransactionConditionError,
} from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import type { AttemptEntry } from './sqs-entries';
import { TABLE, ttlOf } from './table';

const DIRECTORY_PK = 'FLOWKEYS';
const CONFIG_PREFIX = 'cfg:';
const NEWEST_PREFIX = 'new:';
const SEQ_DIGITS = 15;
/** Optimistic writes of one key's state that lose to a concurrent one are tried this often. */
const STATE_ATTEMPTS = 25;
/** A year: the longest a message may wait, and so how long a key's items are kept at least. */
const MAX_WAIT_MS = 366 * 86_400_000;
/** A timer due this long ago that has not fired is taken as lost (its send failed) and re-armed. */
const TIMER_GRACE_MS = 60_000;
/**
 * Starts less than a 32nd of the rate's period apart are kept as one, stamped with the latest
 * of them, so the state holds about 32 starts whatever the rate (an item under 1 KB, one write
 * unit): a start counts at most period/32 longer than it would alone, never shorter, so the
 * limit holds and the key runs at least 32/33 of its rate.
 */
const START_BUCKETS = 32;
/** Starts a state keeps at most (a rate changed meanwhile); the oldest are merged forward. */
const MAX_STARTS = 100;
/** Directory entries seen recently need not be written again by this instance. */
const KNOWN_FOR_MS = 60_000;

/** An attempt in flight: the attempt's number and the trigger that started it from the waitlist. */
type Unit = { readonly n: number; readonly b?: string; readonly s?: number };

/** An attempt entry without its message: enough to send it again once it may start. */
export type WaitingAttempt = Pick<
  AttemptEntry,
  'messageId' | 'retried' | 'sentBy' | 'source' | 'fifo' | 'publish'
>;

type StoredConfiguration = {
  readonly parallelism?: number;
  readonly rate?: RateLimit;
  readonly pending: number;
  readonly newestCreatedAt: number;
};

type FlowState = {
  readonly key: string;
  readonly settings: FlowControlSettings;
  readonly units: Readonly<Record<string, Unit>>;
  readonly starts: readonly RateStart[];
  readonly lastRate?: RateLimit;
  readonly seq: number;
  readonly started: number;
  readonly wakeAt?: number;
  readonly configs: Readonly<Record<string, StoredConfiguration>>;
  readonly version: number;
};

/** What one state change does besides the state: a waitlist item to put, a due item to delete. */
type Change = {
  readonly state: FlowState;
  readonly put?: Item;
  readonly deleteDue?: Key;
  /** The waitlisted attempts this change started, whose entries are sent after the write. */
  readonly started: readonly WaitingAttempt[];
  /** The key has attempts waiting that only the global parallelism holds back. */
  readonly waitsForGlobal?: boolean;
  /** When to send a rate timer, if the change armed one. */
  readonly timerAt?: number;
};

/** The key as the core sees it at one instant. */
type Evaluation = {
  readonly settings: FlowControlSettings;
  readonly limits: KeyLimits;
  readonly configurations: PendingConfiguration[];
  readonly admission: Admission;
};

const keys = {
  directory: (key: string): Key => ({ pk: DIRECTORY_PK, sk: key }),
  state: (key: string): Key => ({ pk: `FLOW#${key}`, sk: 'STATE' }),
  waiting: (key: string, seq: number): Key => ({
    pk: `FLOW#${key}`,
    sk: `W#${String(seq).padStart(SEQ_DIGITS, '0')}`,
  }),
  due: (key: string, messageId: string): Key => ({ pk: `FLOWDUE#${key}`, sk: messageId }),
  global: (): Key => ({ pk: 'FLOWGLOBAL', sk: 'STATE' }),
};

/** The global parallelism's item: attempts in flight over every key, keys waiting for room. */
type GlobalState = { readonly inFlight: number; readonly blocked: ReadonlySet<string> };

/**
 * A change of a key's state, given the time it is made at and what the global parallelism
 * leaves over every key (Infinity without a cap).
 */
type ChangeFn = (
  state: FlowState,
  now: number,
  globalAvailable: number,
) => Change | Promise<Change>;

export type DynamoFlowControlOptions = {
  readonly calls: DynamoCalls;
  readonly clock: Clock;
  readonly retentionMs: number;
  /**
   * The operator's cap on flow-controlled attempts in flight over every key (none: unset). Set,
   * every start and settlement also writes one global item, in a transaction with the key's.
   */
  readonly globalParallelism?: number;
  /** Sends attempt entries of started attempts, due now. */
  readonly sendAttempts: (entries: readonly AttemptEntry[]) => Promise<void>;
  /** Sends a `{"flow"}` entry for `key`, due at `dueAt` (message-router.ts, wakeFlowKey). */
  readonly sendTimer: (key: string, dueAt: number) => Promise<void>;
};

export class DynamoFlowControl implements FlowControlStore {
  readonly #o: DynamoFlowControlOptions;
  readonly #known = new Map<string, number>();
  /** The last change of each key this instance is making, which the next one waits for. */
  readonly #turns = new Map<string, Promise<void>>();

  constructor(options: DynamoFlowControlOptions) {
    this.#o = options;
  }

  // ---- the port, for the management API ----------------------------------------------------

  async getKey(key: string, nowMs: number): Promise<FlowControlKeyRecord | undefined> {
    const state = await this.#state(key);
    if (!state) return undefined;
    const record = recordOf(state, await this.#waiting(state, nowMs), nowMs);
    return isIdleKey(record) ? undefined : record;
  }

  async listKeys(search: string | undefined, nowMs: number): Promise<FlowControlKeyRecord[]> {
    const needle = search?.toLowerCase();
    const names = (await this.#directory()).filter(
      (key) => needle === undefined || key.toLowerCase().includes(needle),
    );
    const records: (FlowControlKeyRecord | undefined)[] = [];
    await mapLimit(names, PARALLEL_CALLS, async (key, index) => {
      records[index] = await this.getKey(key, nowMs);
    });
    return records
      .filter((record) => record !== undefined)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async changeKey(
    key: string,
    change: (record: FlowControlKeyRecord) => FlowControlChange,
    nowMs: number,
  ): Promise<void> {
    const after = await this.#mutate(
      key,
      undefined,
      (state) => {
        const { settings, resetRate } = change(recordOf(state, 0, nowMs));
        return { state: { ...state, settings, ...(resetRate && { starts: [] }) }, started: [] };
      },
      { nowMs },
    );
    if (after) await this.#touchDirectory(key, nowMs);
    // A resume, a higher pin or a reset may let waiting attempts start: the delivery function
    // starts them (the API has no SQS entry to redo a start with after a crash).
    if (after && after.seq > after.started) await this.#o.sendTimer(key, nowMs);
  }

  async inFlightTotal(): Promise<number> {
    const states = await this.#o.calls.batchGet(
      (await this.#directory()).map((key) => keys.state(key)),
      true,
    );
    return states.reduce((sum, item) => sum + Object.keys(decodeState(item).units).length, 0);
  }

  // ---- the message path: publish, attempt, settlement ----------------------------------------

  /** The items and counts of new flow-controlled messages (recorded, message-router.ts). */
  async register(messages: readonly Message[], nowMs: number): Promise<void> {
    const controlled = messages.filter((message) => message.flowControl !== undefined);
    await mapLimit(controlled, PARALLEL_CALLS, async (message) => {
      const flow = message.flowControl!;
      const signature = signatureOf(flow);
      const b = new ExpressionBuilder();
      await this.#o.calls.update(keys.state(flow.key), {
        UpdateExpression: `ADD ${b.name('version')} ${b.value(1)}, ${b.name(CONFIG_PREFIX + signature)} ${b.value(1)} SET ${b.name(NEWEST_PREFIX + signature)} = ${b.value(message.createdAt)}, ${b.name(TABLE.ttlAttribute)} = ${b.value(this.#keyTtl(nowMs))}`,
        ...b.parts(),
      });
      await this.#o.calls.put(this.#dueItem(flow.key, message.messageId, message.notBefore));
      await this.#touchDirectory(flow.key, nowMs);
    });
  }

  /**
   * Whether an attempt the delivery function took may start now. If not, it joins its key's
   * waitlist (and its entry may be deleted): the waitlist starts it when a slot frees. `by` is
   * the entry's SQS message id.
   */
  async admit(key: string, attempt: WaitingAttempt, by: string): Promise<boolean> {
    let admitted = false;
    await this.#mutate(key, by, async (state, now, globalAvailable) => {
      admitted = false;
      if (state.units[attempt.messageId]?.n === attempt.retried) {
        // Started already (from the waitlist, or this entry received again).
        admitted = true;
        return { state, started: [] };
      }
      const evaluation = evaluate(state, now, globalAvailable);
      if (state.seq === state.started && evaluation.admission.allowed > 0) {
        admitted = true;
        return {
          state: startIn(state, evaluation, attempt.messageId, { n: attempt.retried }, now),
          started: [],
        };
      }
      const seq = state.seq + 1;
      const waitlisted = { ...state, seq };
      const next = await this.#startWaiting(
        waitlisted,
        now,
        by,
        new Map([[seq, attempt]]),
        globalAvailable,
      );
      return {
        ...next,
        put: {
          ...keys.waiting(key, seq),
          ...waitingFields(attempt),
          [TABLE.ttlAttribute]: this.#keyTtl(now),
        },
      };
    });
    return admitted;
  }

  /**
   * An attempt of `message` was settled, or its entry dropped: the slot it took frees, and the
   * waitlist's next attempts start. `outcome` is `{retryAt}` for a retry (the message stays
   * pending, due then), `'final'` for its final outcome (it stops counting), `'dropped'` for an
   * entry dropped unattempted. `by` names the trigger (the settled entry's SQS message id);
   * absent in the API, which sends a `{"flow"}` entry instead.
   */
  async settle(
    message: Message,
    retried: number,
    outcome: { readonly retryAt: number } | 'final' | 'dropped',
    by: string | undefined,
  ): Promise<void> {
    const flow = message.flowControl;
    if (!flow) return;
    if (typeof outcome === 'object') {
      await this.#o.calls.put(this.#dueItem(flow.key, message.messageId, outcome.retryAt));
    }
    const signature = signatureOf(flow);
    const apply = (state: FlowState, final: boolean): FlowState => {
      const { [message.messageId]: unit, ...units } = state.units;
      let next = state;
      if (unit?.n === retried) next = { ...next, units };
      if (final) next = decremented(next, signature);
      return next;
    };
    const release = async (final: boolean) =>
      this.#mutate(
        flow.key,
        by,
        async (state, now, globalAvailable) => {
          const released = apply(state, final);
          if (by === undefined) return { state: released, started: [] };
          const freed = Object.keys(state.units).length - Object.keys(released.units).length;
          return this.#startWaiting(released, now, by, new Map(), globalAvailable + freed);
        },
        final ? { deleteDue: keys.due(flow.key, message.messageId) } : {},
      );
    let after: FlowState | undefined;
    if (outcome === 'final') {
      try {
        after = await release(true);
      } catch (error) {
        // Counted out already (a settlement replayed after a crash): only the slot is freed.
        if (!(error instanceof DueItemGoneError)) throw error;
        after = await release(false);
      }
    } else {
      after = await release(false);
    }
    if (by === undefined && after && after.seq > after.started) {
      await this.#o.sendTimer(flow.key, this.#o.clock.now());
    }
  }

  /** A cancel was asked of a message that may be under way: it no longer counts as waiting. */
  async markCanceled(message: Message): Promise<void> {
    const flow = message.flowControl;
    if (!flow) return;
    const b = new ExpressionBuilder();
    try {
      await this.#o.calls.update(keys.due(flow.key, message.messageId), {
        UpdateExpression: `SET ${b.name('canceled')} = ${b.value(true)}`,
        ConditionExpression: `attribute_exists(${b.name(TABLE.partitionKey)})`,
        ...b.parts(),
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  /** A `{"flow"}` entry (the rate timer, or the API's after a change): starts what may start. */
  async pump(key: string, by: string): Promise<void> {
    await this.#mutate(key, by, async (state, now, globalAvailable) => {
      const { wakeAt: _fired, ...rest } = state;
      const cleared = state.wakeAt !== undefined && state.wakeAt <= now ? rest : state;
      return this.#startWaiting(cleared, now, by, new Map(), globalAvailable, true);
    });
  }

  /** Keys with waiting attempts, for the reconcile pass to pump. */
  async keysWithWaiting(): Promise<string[]> {
    const states = await this.#o.calls.batchGet(
      (await this.#directory()).map((key) => keys.state(key)),
      true,
    );
    return states
      .map(decodeState)
      .filter((state) => state.seq > state.started)
      .map((state) => state.key);
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Starts the waitlist's next attempts while the key allows, and arms the rate timer when the
   * rate holds the rest back. `pending` holds waitlist items not written yet (the one being
   * added); `globalAvailable` what the global parallelism leaves; `fired` is true in the timer
   * itself, which re-arms whatever `wakeAt` says.
   */
  async #startWaiting(
    state: FlowState,
    now: number,
    by: string,
    pending: ReadonlyMap<number, WaitingAttempt>,
    globalAvailable: number,
    fired = false,
  ): Promise<Omit<Change, 'put' | 'deleteDue'>> {
    let next = state;
    const started: WaitingAttempt[] = [];
    while (next.seq > next.started) {
      const evaluation = evaluate(next, now, globalAvailable - started.length);
      if (evaluation.admission.blockedBy === 'global') {
        return { state: next, started, waitsForGlobal: true };
      }
      if (evaluation.admission.allowed <= 0) {
        const rateFreesAt = evaluation.admission.rateFreesAt;
        if (evaluation.admission.blockedBy !== 'rate' || rateFreesAt === undefined) break;
        const armed =
          !fired &&
          next.wakeAt !== undefined &&
          next.wakeAt > now - TIMER_GRACE_MS &&
          next.wakeAt <= rateFreesAt;
        if (armed) break;
        return { state: { ...next, wakeAt: rateFreesAt }, started, timerAt: rateFreesAt };
      }
      const seq = next.started + 1;
      const attempt = pending.get(seq) ?? (await this.#waitingAt(next.key, seq));
      next = { ...next, started: seq };
      // Gone (expired), or started already by an earlier copy of its entry.
      if (!attempt || next.units[attempt.messageId]?.n === attempt.retried) continue;
      next = startIn(
        next,
        evaluation,
        attempt.messageId,
        { n: attempt.retried, b: by, s: seq },
        now,
      );
      started.push(attempt);
    }
    return { state: next, started };
  }

  /**
   * Applies `change` to the key's state, read fresh, until it is written without a concurrent
   * change in between (creating the key; deleting it once nothing is left to keep), then sends
   * the entries of what it started and its timer. `by` names the trigger: starts it made before
   * (a crash may have kept their entries from being sent) are sent again. With `deleteDue`, the
   * write also deletes that due item, and rejects with DueItemGoneError when it is not there.
   *
   * `change` sees the time of its own read, never earlier than a start the state holds (another
   * instance's clock may be ahead), so a start made meanwhile always counts against the rate.
   * This instance's changes of one key take turns; other instances' race, and the loser tries
   * again after a jittered pause.
   */
  async #mutate(
    key: string,
    by: string | undefined,
    change: ChangeFn,
    options: { readonly nowMs?: number; readonly deleteDue?: Key } = {},
  ): Promise<FlowState | undefined> {
    return this.#inTurn(key, () => this.#race(key, by, change, options));
  }

  async #inTurn<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(key) ?? Promise.resolve();
    const mine = previous.then(run);
    const settled = mine.then(
      () => {},
      () => {},
    );
    this.#turns.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.#turns.get(key) === settled) this.#turns.delete(key);
    }
  }

  async #race(
    key: string,
    by: string | undefined,
    change: ChangeFn,
    { nowMs, deleteDue }: { readonly nowMs?: number; readonly deleteDue?: Key },
  ): Promise<FlowState | undefined> {
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt += 1) {
      if (attempt > 0) await pause(attempt);
      const current = (await this.#state(key)) ?? newState(key);
      const now = Math.max(
        nowMs ?? this.#o.clock.now(),
        ...current.starts.map((start) => start.at),
      );
      const cap = this.#o.globalParallelism;
      const global = cap === undefined ? undefined : await this.#global();
      const globalAvailable =
        cap === undefined ? Number.POSITIVE_INFINITY : cap - (global?.inFlight ?? 0);
      const result = await change(current, now, globalAvailable);
      const again =
        by === undefined
          ? []
          : Object.entries(current.units).filter(
              ([messageId, unit]) =>
                unit.b === by &&
                unit.s !== undefined &&
                !result.started.some((started) => started.messageId === messageId),
            );
      const next = pruned(result.state, now);
      // Attempts this write frees over every key let keys waiting for room go on.
      const freed =
        Object.keys(current.units).length -
        (isIdle(next, now) ? 0 : Object.keys(next.units).length);
      const woken =
        global && freed > 0 && !result.waitsForGlobal
          ? [...global.blocked].filter((other) => other !== key)
          : [];
      const written = await this.#write(current, next, now, {
        ...(result.put && { put: result.put }),
        ...(deleteDue && { deleteDue }),
        ...(cap !== undefined && {
          global: { cap, waitsForGlobal: result.waitsForGlobal === true, woken },
        }),
      });
      if (written === false) continue;
      for (const other of woken) await this.#o.sendTimer(other, now);
      const resent: (WaitingAttempt | undefined)[] = [];
      await mapLimit(again, PARALLEL_CALLS, async ([, unit], index) => {
        resent[index] = await this.#waitingAt(key, unit.s!);
      });
      const entries = [...result.started, ...resent.filter((a) => a !== undefined)].map(entryOf);
      if (entries.length > 0) await this.#o.sendAttempts(entries);
      if (result.timerAt !== undefined) await this.#o.sendTimer(key, result.timerAt);
      return written;
    }
    throw new DynamoStoreError(
      `flow-control key ${key}: its state kept changing under ${STATE_ATTEMPTS} writes`,
    );
  }

  /**
   * Writes `next` in place of `current` if nothing changed the state since it was read (deletes
   * it once idle); resolves with the state written (undefined once deleted), or false when
   * another write came first.
   */
  async #write(
    current: FlowState,
    next: FlowState,
    now: number,
    extra: {
      readonly put?: Item;
      readonly deleteDue?: Key;
      readonly global?: {
        readonly cap: number;
        readonly waitsForGlobal: boolean;
        readonly woken: readonly string[];
      };
    },
  ): Promise<FlowState | undefined | false> {
    const waits = extra.global?.waitsForGlobal === true;
    const unchanged = next === current && !extra.put && !extra.deleteDue && !waits;
    if (unchanged) return current.version === 0 ? undefined : current;
    const b = new ExpressionBuilder();
    const condition =
      current.version === 0
        ? `attribute_not_exists(${b.name(TABLE.partitionKey)})`
        : `${b.name('version')} = ${b.value(current.version)}`;
    const idle = isIdle(next, now);
    let stateWrite: TransactItem;
    if (idle) {
      if (current.version === 0 && !extra.deleteDue) return undefined;
      stateWrite = {
        Delete: {
          TableName: this.#o.calls.tableName,
          Key: keys.state(next.key),
          ConditionExpression: condition,
          ...b.parts(),
        },
      };
    } else {
      const written = { ...next, version: current.version + 1 };
      const fields = stateFields(written, this.#keyTtl(now));
      const removed = removedFields(current, written);
      stateWrite = {
        Update: {
          TableName: this.#o.calls.tableName,
          Key: keys.state(next.key),
          UpdateExpression: `SET ${Object.entries(fields)
            .map(([field, value]) => `${b.name(field)} = ${b.value(value)}`)
            .join(
              ', ',
            )}${removed.length > 0 ? ` REMOVE ${removed.map((f) => b.name(f)).join(', ')}` : ''}`,
          ConditionExpression: condition,
          ...b.parts(),
        },
      };
    }
    const others: TransactItem[] = [];
    if (extra.put) others.push({ Put: { TableName: this.#o.calls.tableName, Item: extra.put } });
    if (extra.deleteDue) {
      others.push({
        Delete: {
          TableName: this.#o.calls.tableName,
          Key: extra.deleteDue,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        },
      });
    }
    const due = others.length;
    const delta = (idle ? 0 : Object.keys(next.units).length) - Object.keys(current.units).length;
    const globalWrite =
      extra.global && globalUpdate(this.#o.calls.tableName, next.key, delta, extra.global);
    if (globalWrite) others.push(globalWrite);
    try {
      if (others.length === 0) await this.#single(stateWrite);
      else await this.#o.calls.transact([stateWrite, ...others]);
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      if (error instanceof TransactionConditionError) {
        if (extra.deleteDue && error.failedAt(due)) throw new DueItemGoneError();
        // Another write came first: to the key's state, or to the global count.
        if (error.failedAt(0) || (globalWrite && error.failedAt(others.length))) return false;
      }
      throw error;
    }
    return idle ? undefined : { ...next, version: current.version + 1 };
  }

  async #single(write: TransactItem): Promise<void> {
    if (write.Update) {
      const { TableName: _table, Key: key, ...rest } = write.Update;
      await this.#o.calls.update(key as Key, rest);
      return;
    }
    const { TableName: _table, Key: key, ...rest } = write.Delete!;
    await this.#o.calls.delete(key as Key, rest);
  }

  async #global(): Promise<GlobalState> {
    const item = await this.#o.calls.get(keys.global());
    return {
      inFlight: (item?.inFlight as number | undefined) ?? 0,
      blocked: (item?.blocked as Set<string> | undefined) ?? new Set(),
    };
  }

  async #state(key: string): Promise<FlowState | undefined> {
    const item = await this.#o.calls.get(keys.state(key));
    return item && decodeState(item);
  }

  async #waitingAt(key: string, seq: number): Promise<WaitingAttempt | undefined> {
    const item = await this.#o.calls.get(keys.waiting(key, seq));
    return item && decodeWaiting(item);
  }

  /** Due, uncanceled messages of the key not in flight: its `waitListSize`. */
  async #waiting(state: FlowState, nowMs: number): Promise<number> {
    const b = new ExpressionBuilder();
    const items = await this.#o.calls.queryAll({
      KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(keys.due(state.key, '').pk)}`,
      FilterExpression: `${b.name('dueAt')} <= ${b.value(nowMs)} AND attribute_not_exists(${b.name('canceled')})`,
      ...b.parts(),
      ConsistentRead: true,
    });
    return items.filter((item) => state.units[item[TABLE.sortKey] as string] === undefined).length;
  }

  async #directory(): Promise<string[]> {
    const b = new ExpressionBuilder();
    const items = await this.#o.calls.queryAll({
      KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(DIRECTORY_PK)}`,
      ...b.parts(),
      ConsistentRead: true,
    });
    return items.map((item) => item[TABLE.sortKey] as string);
  }

  /** Lists the key (a key forgotten and used again is listed again within a minute). */
  async #touchDirectory(key: string, nowMs: number): Promise<void> {
    if ((this.#known.get(key) ?? 0) > nowMs) return;
    await this.#o.calls.put({
      ...keys.directory(key),
      [TABLE.ttlAttribute]: this.#keyTtl(nowMs),
    });
    this.#known.set(key, nowMs + KNOWN_FOR_MS);
  }

  #dueItem(key: string, messageId: string, dueAt: number): Item {
    return {
      ...keys.due(key, messageId),
      dueAt,
      [TABLE.ttlAttribute]: ttlOf(Math.max(dueAt, this.#o.clock.now()) + this.#o.retentionMs),
    };
  }

  #keyTtl(nowMs: number): number {
    return ttlOf(nowMs + MAX_WAIT_MS + this.#o.retentionMs);
  }
}

/**
 * The global item's part of a key's write: the change in attempts in flight (refused when it
 * would pass the cap), the key joining the keys that wait for room, or the keys woken leaving.
 */
function globalUpdate(
  tableName: string,
  key: string,
  delta: number,
  global: {
    readonly cap: number;
    readonly waitsForGlobal: boolean;
    readonly woken: readonly string[];
  },
): TransactItem | undefined {
  const b = new ExpressionBuilder();
  const adds: string[] = [];
  if (delta !== 0) adds.push(`${b.name('inFlight')} ${b.value(delta)}`);
  if (global.waitsForGlobal) adds.push(`${b.name('blocked')} ${b.value(new Set([key]))}`);
  const deletes =
    !global.waitsForGlobal && global.woken.length > 0
      ? ` DELETE ${b.name('blocked')} ${b.value(new Set(global.woken))}`
      : '';
  if (adds.length === 0 && deletes === '') return undefined;
  return {
    Update: {
      TableName: tableName,
      Key: keys.global(),
      UpdateExpression: `${adds.length > 0 ? `ADD ${adds.join(', ')}` : ''}${deletes}`.trim(),
      ...(delta > 0 && {
        ConditionExpression: `attribute_not_exists(${b.name('inFlight')}) OR ${b.name('inFlight')} <= ${b.value(global.cap - delta)}`,
      }),
      ...b.parts(),
    },
  };
}

/** A pause before another try at a state another writer changed: 5 to 10 ms, doubling to 320. */
function pause(attempt: number): Promise<void> {
  const ms = 5 * 2 ** Math.min(attempt - 1, 6) * (1 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A final outcome whose due item is gone: it was counted out before. */
class DueItemGoneError extends Error {}

function signatureOf(flow: FlowControl): string {
  const period = flow.rate !== undefined ? (flow.periodSec ?? 1) * 1_000 : '';
  return `${flow.parallelism ?? ''}/${flow.rate ?? ''}/${period}`;
}

function configurationOf(
  signature: string,
): Omit<StoredConfiguration, 'pending' | 'newestCreatedAt'> {
  const [parallelism, rate, periodMs] = signature.split('/');
  return {
    ...(parallelism && { parallelism: Number(parallelism) }),
    ...(rate && periodMs && { rate: { max: Number(rate), periodMs: Number(periodMs) } }),
  };
}

function newState(key: string): FlowState {
  return { key, settings: {}, units: {}, starts: [], seq: 0, started: 0, configs: {}, version: 0 };
}

function configurations(state: FlowState): PendingConfiguration[] {
  return Object.values(state.configs).filter((config) => config.pending > 0);
}

function evaluate(state: FlowState, now: number, globalAvailable: number): Evaluation {
  const configs = configurations(state);
  const settings = settleCarriedValues(state.settings, configs);
  const limits = effectiveLimits(settings, configs);
  const admission = admit(
    {
      settings,
      limits,
      inFlight: Object.keys(state.units).length,
      starts: state.starts,
      globalAvailable,
    },
    now,
  );
  return { settings, limits, configurations: configs, admission };
}

/** `state` with an attempt of `messageId` started at `now`, counted against the rate. */
function startIn(
  state: FlowState,
  evaluation: Evaluation,
  messageId: string,
  unit: Unit,
  now: number,
): FlowState {
  const rate = evaluation.limits.rate;
  const last = state.starts.at(-1);
  const joinsLast =
    last !== undefined && last.at <= now && last.at > now - (rate?.periodMs ?? 0) / START_BUCKETS;
  const starts =
    rate === undefined
      ? state.starts
      : joinsLast
        ? [...state.starts.slice(0, -1), { at: now, count: last!.count + 1 }]
        : [...state.starts, { at: now, count: 1 }];
  return {
    ...state,
    settings: evaluation.settings,
    units: { ...state.units, [messageId]: unit },
    starts,
    ...(evaluation.limits.rate && { lastRate: evaluation.limits.rate }),
  };
}

function decremented(state: FlowState, signature: string): FlowState {
  const config = state.configs[signature];
  if (!config) return state;
  return {
    ...state,
    configs: { ...state.configs, [signature]: { ...config, pending: config.pending - 1 } },
  };
}

/** The state with carried values settled and the starts its rate no longer counts dropped. */
function pruned(state: FlowState, now: number): FlowState {
  const configs = configurations(state);
  const settings = settleCarriedValues(state.settings, configs);
  const rate = effectiveLimits(settings, configs).rate ?? state.lastRate;
  let starts = rate ? countedStarts(state.starts, rate, now) : [];
  // Keep any start recorded after `now` by a faster clock, then bound the list: merging a start
  // into the next one counts it longer, never shorter, so the limit still holds.
  starts = [...starts, ...state.starts.filter((start) => start.at > now)];
  while (starts.length > MAX_STARTS) {
    const [first, second, ...rest] = starts;
    starts = [{ at: second!.at, count: first!.count + second!.count }, ...rest];
  }
  const same =
    settings === state.settings &&
    starts.length === state.starts.length &&
    starts.every((start, i) => start === state.starts[i]);
  if (same && (rate === undefined || sameRate(rate, state.lastRate))) return state;
  return { ...state, settings, starts, ...(rate && { lastRate: rate }) };
}

function sameRate(a: RateLimit, b: RateLimit | undefined): boolean {
  return b !== undefined && a.max === b.max && a.periodMs === b.periodMs;
}

function isIdle(state: FlowState, now: number): boolean {
  return state.seq === state.started && isIdleKey(recordOf(state, 0, now));
}

function recordOf(state: FlowState, waiting: number, nowMs: number): FlowControlKeyRecord {
  const rate = state.lastRate;
  return {
    key: state.key,
    settings: state.settings,
    inFlight: Object.keys(state.units).length,
    waiting,
    configurations: configurations(state),
    starts: rate ? countedStarts(state.starts, rate, nowMs) : [],
    ...(rate && { lastRate: rate }),
  };
}

function stateFields(state: FlowState, ttl: number): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    settings: JSON.stringify(state.settings),
    units: JSON.stringify(state.units),
    starts: JSON.stringify(state.starts),
    seq: state.seq,
    started: state.started,
    version: state.version,
    [TABLE.ttlAttribute]: ttl,
  };
  if (state.lastRate) fields.lastRate = JSON.stringify(state.lastRate);
  if (state.wakeAt !== undefined) fields.wakeAt = state.wakeAt;
  for (const [signature, config] of Object.entries(state.configs)) {
    if (config.pending <= 0) continue;
    fields[CONFIG_PREFIX + signature] = config.pending;
    fields[NEWEST_PREFIX + signature] = config.newestCreatedAt;
  }
  return fields;
}

/** Attributes `current` has that `next` drops: an expired timer, a configuration no one carries. */
function removedFields(current: FlowState, next: FlowState): string[] {
  const removed: string[] = [];
  if (current.wakeAt !== undefined && next.wakeAt === undefined) removed.push('wakeAt');
  for (const [signature, config] of Object.entries(next.configs)) {
    if (config.pending <= 0) removed.push(CONFIG_PREFIX + signature, NEWEST_PREFIX + signature);
  }
  return removed;
}

function decodeState(item: Item): FlowState {
  const configs: Record<string, StoredConfiguration> = {};
  for (const [attribute, value] of Object.entries(item)) {
    if (!attribute.startsWith(CONFIG_PREFIX)) continue;
    const signature = attribute.slice(CONFIG_PREFIX.length);
    configs[signature] = {
      ...configurationOf(signature),
      pending: value as number,
      newestCreatedAt: (item[NEWEST_PREFIX + signature] as number | undefined) ?? 0,
    };
  }
  const key = (item[TABLE.partitionKey] as string).slice('FLOW#'.length);
  return {
    key,
    settings: item.settings ? (JSON.parse(item.settings as string) as FlowControlSettings) : {},
    units: item.units ? (JSON.parse(item.units as string) as Record<string, Unit>) : {},
    starts: item.starts ? (JSON.parse(item.starts as string) as RateStart[]) : [],
    ...(typeof item.lastRate === 'string' && { lastRate: JSON.parse(item.lastRate) as RateLimit }),
    seq: (item.seq as number | undefined) ?? 0,
    started: (item.started as number | undefined) ?? 0,
    ...(typeof item.wakeAt === 'number' && { wakeAt: item.wakeAt }),
    configs,
    version: (item.version as number | undefined) ?? 0,
  };
}

function waitingFields(attempt: WaitingAttempt): Item {
  return {
    messageId: attempt.messageId,
    retried: attempt.retried,
    ...(attempt.sentBy !== undefined && { sentBy: attempt.sentBy }),
    ...(attempt.source && { source: JSON.stringify(attempt.source) }),
    ...(attempt.fifo !== undefined && { fifo: attempt.fifo }),
    ...(attempt.publish !== undefined && { publish: attempt.publish }),
  };
}

function decodeWaiting(item: Item): WaitingAttempt {
  return {
    messageId: item.messageId as string,
    retried: item.retried as number,
    ...(typeof item.sentBy === 'string' && { sentBy: item.sentBy }),
    ...(typeof item.source === 'string' && { source: JSON.parse(item.source) }),
    ...(typeof item.fifo === 'string' && { fifo: item.fifo }),
    ...(typeof item.publish === 'string' && { publish: item.publish }),
  };
}

/** The entry of a waitlisted attempt that may start: its message is read from its record. */
function entryOf(attempt: WaitingAttempt): AttemptEntry {
  return { kind: 'attempt', ...attempt, recorded: true };
}
