import type Database from 'better-sqlite3';
import { isIdleKey } from '../../core/flow-control-keys';
import type {
  Admission,
  FlowControlSettings,
  KeyLimits,
  PendingConfiguration,
  RateLimit,
  RateStart,
} from '../../core/flow-control-limits';
import { admit, effectiveLimits, settleCarriedValues } from '../../core/flow-control-limits';
import type {
  FlowControlChange,
  FlowControlKeyRecord,
  FlowControlStore,
} from '../../ports/flow-control-store';
import { writeTransaction } from './sqlite-transaction';

/** A due message waiting in a key's waitlist, as the claim sorts candidates. */
export type FlowCandidate = {
  /** The message's rowid, which the claim leases it by. */
  readonly seq: number;
  readonly dueAt: number;
  readonly origin: string;
  readonly flowKey: string;
};

type KeyRow = { settings: string; inFlight: number; rateMax: number; ratePeriodMs: number };
type ConfigRow = {
  parallelism: number;
  rate: number;
  periodMs: number;
  pending: number;
  newestCreatedAt: number;
};

/** One key as a claim sees it: its limits, what it may still start, what it started. */
type KeyInClaim = {
  readonly key: string;
  readonly settings: FlowControlSettings;
  readonly limits: KeyLimits;
  readonly inFlight: number;
  readonly starts: RateStart[];
  readonly configurations: readonly PendingConfiguration[];
  /** The rate in force, or the last one while its starts still count. */
  readonly lastRate?: RateLimit;
  allowed: number;
  taken: number;
  /** Waitlisted candidates the claim was offered, and the most it asked for. */
  found: number;
  asked: number;
};

const NO_LIMIT = Number.POSITIVE_INFINITY;
const MIN_KEYS_PER_CLAIM = 256;

/**
 * Flow control on SQLite: the FlowControlStore port for the management API, and the gate the
 * delivery claim asks which keys may start how many attempts now.
 *
 * A flow-controlled message waits in its key's waitlist (the `messages_flow` index) rather than
 * in the due index. Triggers on `messages` keep each key's attempts in flight and its pending
 * configurations exact, and set `wake_at` when something that may free a slot happens (a new
 * message, a settlement, a release); the gate sets it to when the key's rate frees a slot, or
 * clears it while the key waits for an event (a settlement, a resume). A claim looks only at keys
 * whose `wake_at` has come, so a blocked key costs nothing until it can move: nothing polls.
 */
export class SqliteFlowControl implements FlowControlStore {
  readonly #globalParallelism: number;
  readonly #onChange: () => void;
  readonly #statements;
  readonly #change: (
    key: string,
    change: (record: FlowControlKeyRecord) => FlowControlChange,
    nowMs: number,
  ) => void;

  /**
   * @param globalParallelism the operator's cap on flow-controlled attempts in flight (none: unset).
   * @param onChange called after a settings change, which may let attempts start.
   */
  constructor(db: Database.Database, globalParallelism: number | undefined, onChange: () => void) {
    this.#globalParallelism = globalParallelism ?? NO_LIMIT;
    this.#onChange = onChange;
    const statements = {
      key: db.prepare(
        `SELECT settings, in_flight AS inFlight, rate_max AS rateMax,
           rate_period_ms AS ratePeriodMs
         FROM flow_control_keys WHERE key = ?`,
      ),
      configs: db.prepare(
        `SELECT parallelism, rate, period_ms AS periodMs, pending,
           newest_created_at AS newestCreatedAt
         FROM flow_control_configs WHERE key = ?`,
      ),
      starts: db.prepare('SELECT at, count FROM flow_control_starts WHERE key = ? ORDER BY at'),
      liveStarts: db.prepare(
        'SELECT at, count FROM flow_control_starts WHERE key = ? AND at > ? ORDER BY at',
      ),
      waiting: db.prepare(
        `SELECT COUNT(*) AS n FROM messages
         WHERE flow_key = ? AND due_at <= ? AND lease_until IS NULL AND fifo_queue IS NULL`,
      ),
      readyKeys: db.prepare(
        'SELECT key FROM flow_control_keys WHERE wake_at <= ? ORDER BY wake_at LIMIT ?',
      ),
      waitlist: db.prepare(
        `SELECT seq, due_at AS dueAt, origin, flow_key AS flowKey
         FROM messages
         WHERE flow_key = ? AND due_at <= ? AND lease_until IS NULL AND fifo_queue IS NULL
         ORDER BY due_at LIMIT ?`,
      ),
      nextDue: db.prepare(
        `SELECT MIN(due_at) AS dueAt FROM messages
         WHERE flow_key = ? AND due_at IS NOT NULL AND lease_until IS NULL AND fifo_queue IS NULL`,
      ),
      nextWake: db.prepare(
        'SELECT MIN(wake_at) AS wakeAt FROM flow_control_keys WHERE wake_at IS NOT NULL',
      ),
      inFlightTotal: db.prepare(
        'SELECT COALESCE(SUM(in_flight), 0) AS n FROM flow_control_keys WHERE in_flight > 0',
      ),
      allKeys: db.prepare('SELECT key FROM flow_control_keys ORDER BY key'),
      searchKeys: db.prepare(
        `SELECT key FROM flow_control_keys WHERE instr(lower(key), lower(?)) > 0 ORDER BY key`,
      ),
      createKey: db.prepare('INSERT OR IGNORE INTO flow_control_keys (key) VALUES (?)'),
      setSettings: db.prepare(
        'UPDATE flow_control_keys SET settings = ?, wake_at = 0, active_at = ? WHERE key = ?',
      ),
      setWake: db.prepare(
        `UPDATE flow_control_keys SET wake_at = ?, waits_for_global = ?, settings = ?,
           rate_max = ?, rate_period_ms = ?, active_at = ? WHERE key = ?`,
      ),
      deleteKey: db.prepare('DELETE FROM flow_control_keys WHERE key = ?'),
      addStart: db.prepare(
        `INSERT INTO flow_control_starts (key, at, count) VALUES (?, ?, ?)
         ON CONFLICT (key, at) DO UPDATE SET count = count + excluded.count`,
      ),
      pruneStarts: db.prepare('DELETE FROM flow_control_starts WHERE key = ? AND at <= ?'),
      clearStarts: db.prepare('DELETE FROM flow_control_starts WHERE key = ?'),
    };
    this.#statements = statements;
    this.#change = writeTransaction(
      db,
      (key: string, change: (record: FlowControlKeyRecord) => FlowControlChange, nowMs: number) => {
        statements.createKey.run(key);
        const { settings, resetRate } = change(this.#read(key, nowMs)!);
        statements.setSettings.run(JSON.stringify(settings), nowMs, key);
        if (resetRate) statements.clearStarts.run(key);
      },
    );
  }

  async getKey(key: string, nowMs: number): Promise<FlowControlKeyRecord | undefined> {
    return this.#record(key, nowMs);
  }

  async listKeys(search: string | undefined, nowMs: number): Promise<FlowControlKeyRecord[]> {
    const rows = (
      search === undefined
        ? this.#statements.allKeys.all()
        : this.#statements.searchKeys.all(search)
    ) as { key: string }[];
    return rows.flatMap(({ key }) => this.#record(key, nowMs) ?? []);
  }

  async changeKey(
    key: string,
    change: (record: FlowControlKeyRecord) => FlowControlChange,
    nowMs: number,
  ): Promise<void> {
    this.#change(key, change, nowMs);
    this.#onChange();
  }

  async inFlightTotal(): Promise<number> {
    return (this.#statements.inFlightTotal.get() as { n: number }).n;
  }

  /**
   * Opens the flow-control part of a claim at `nowMs`, inside the claim's transaction: the due
   * waitlisted messages of every key that may start attempts now, at most `limit` per key and no
   * more than the key allows. The claim then calls `take` for each flow-controlled message it
   * would start (waitlisted or at the head of a FIFO queue) and `close` once it has leased them.
   */
  openClaim(nowMs: number, limit: number): FlowClaim {
    return new FlowClaim(this, nowMs, limit);
  }

  /** When the gate must next look at a key (a rate slot frees, a key is to be cleaned up). */
  nextWakeAt(): number | undefined {
    return (this.#statements.nextWake.get() as { wakeAt: number | null }).wakeAt ?? undefined;
  }

  /** @internal for FlowClaim: the keys due for a look, those waiting longest first. */
  readyKeys(nowMs: number, count: number): string[] {
    return (this.#statements.readyKeys.all(nowMs, count) as { key: string }[]).map(
      (row) => row.key,
    );
  }

  /** @internal for FlowClaim */
  globalAvailable(): number {
    if (this.#globalParallelism === NO_LIMIT) return NO_LIMIT;
    return this.#globalParallelism - (this.#statements.inFlightTotal.get() as { n: number }).n;
  }

  /** @internal for FlowClaim: the key as the claim sees it, or undefined when it has no row. */
  evaluate(key: string, nowMs: number, globalAvailable: number): KeyInClaim | undefined {
    const row = this.#statements.key.get(key) as KeyRow | undefined;
    if (!row) return undefined;
    const configurations = (this.#statements.configs.all(key) as ConfigRow[]).map(toConfiguration);
    const stored = JSON.parse(row.settings) as FlowControlSettings;
    const settings = settleCarriedValues(stored, configurations);
    const limits = effectiveLimits(settings, configurations);
    if (limits.rate) this.#statements.pruneStarts.run(key, nowMs - limits.rate.periodMs);
    const starts = this.#statements.starts.all(key) as RateStart[];
    const admission = admit(
      { settings, limits, inFlight: row.inFlight, starts, globalAvailable },
      nowMs,
    );
    return {
      key,
      settings,
      limits,
      inFlight: row.inFlight,
      starts,
      configurations,
      ...((limits.rate ?? storedRate(row)) && { lastRate: limits.rate ?? storedRate(row) }),
      allowed: admission.allowed,
      taken: 0,
      found: 0,
      asked: 0,
    };
  }

  /** @internal for FlowClaim */
  waitlist(key: string, nowMs: number, count: number): FlowCandidate[] {
    return this.#statements.waitlist.all(key, nowMs, count) as FlowCandidate[];
  }

  /**
   * @internal for FlowClaim: records what the claim started of `state.key` and when the gate
   * must look at the key next; removes the key once nothing about it is left to keep.
   */
  settle(state: KeyInClaim, nowMs: number, globalAvailable: number): void {
    const statements = this.#statements;
    const starts = [...state.starts];
    if (state.taken > 0 && state.limits.rate) {
      statements.addStart.run(state.key, nowMs, state.taken);
      starts.push({ at: nowMs, count: state.taken });
    }
    const inFlight = state.inFlight + state.taken;
    const after: Admission = admit(
      { settings: state.settings, limits: state.limits, inFlight, starts, globalAvailable },
      nowMs,
    );
    const periodMs = state.lastRate?.periodMs ?? 0;
    const counted = starts.filter((start) => start.at > nowMs - periodMs);
    const idle = isIdleKey({ ...state, inFlight, starts: counted, waiting: 0 });
    if (idle) {
      statements.deleteKey.run(state.key);
      statements.clearStarts.run(state.key);
      return;
    }
    let wakeAt: number | null;
    if (after.allowed > 0) {
      // More may be due than this claim could take: look again at the next claim.
      const cut = state.taken < state.found || (state.found > 0 && state.found === state.asked);
      wakeAt = cut
        ? nowMs
        : ((statements.nextDue.get(state.key) as { dueAt: number | null }).dueAt ?? null);
      if (wakeAt === null && state.configurations.length === 0 && counted.length > 0) {
        // Nothing pending: look once more when the last counted start expires, to clean up.
        wakeAt = Math.max(...counted.map((start) => start.at)) + periodMs;
      }
    } else {
      wakeAt = after.blockedBy === 'rate' ? (after.rateFreesAt ?? null) : null;
    }
    statements.setWake.run(
      wakeAt,
      after.blockedBy === 'global' ? 1 : 0,
      JSON.stringify(state.settings),
      state.lastRate?.max ?? 0,
      periodMs,
      nowMs,
      state.key,
    );
  }

  /**
   * The key as the port shows it; undefined once nothing about it is left (no pending message,
   * setting or counted start), whether or not the gate has removed its row yet.
   */
  #record(key: string, nowMs: number): FlowControlKeyRecord | undefined {
    const record = this.#read(key, nowMs);
    return record && !isIdleKey(record) ? record : undefined;
  }

  #read(key: string, nowMs: number): FlowControlKeyRecord | undefined {
    const row = this.#statements.key.get(key) as KeyRow | undefined;
    if (!row) return undefined;
    return {
      key,
      settings: JSON.parse(row.settings) as FlowControlSettings,
      inFlight: row.inFlight,
      waiting: (this.#statements.waiting.get(key, nowMs) as { n: number }).n,
      configurations: (this.#statements.configs.all(key) as ConfigRow[]).map(toConfiguration),
      starts: this.#statements.liveStarts.all(key, nowMs - row.ratePeriodMs) as RateStart[],
      ...(storedRate(row) && { lastRate: storedRate(row) }),
    };
  }
}

/** The flow-control side of one claim; see SqliteFlowControl.openClaim. */
export class FlowClaim {
  readonly #gate: SqliteFlowControl;
  readonly #nowMs: number;
  readonly #keys = new Map<string, KeyInClaim | undefined>();
  #globalAvailable: number;
  /** The due waitlisted messages of the keys that may start attempts now. */
  readonly candidates: FlowCandidate[] = [];

  constructor(gate: SqliteFlowControl, nowMs: number, limit: number) {
    this.#gate = gate;
    this.#nowMs = nowMs;
    this.#globalAvailable = gate.globalAvailable();
    // A bounded number of keys per claim keeps one claim short; the rest stay due for the next.
    for (const key of gate.readyKeys(nowMs, Math.max(limit, MIN_KEYS_PER_CLAIM))) {
      const state = this.#state(key);
      if (!state || state.allowed <= 0) continue;
      state.asked = Math.min(state.allowed, limit);
      const waiting = gate.waitlist(key, nowMs, state.asked);
      state.found = waiting.length;
      this.candidates.push(...waiting);
    }
  }

  /** Whether an attempt of `key` may start now; if so, it is counted as started. */
  take(key: string): boolean {
    const state = this.#state(key);
    if (!state || state.taken >= state.allowed || this.#globalAvailable <= 0) return false;
    state.taken += 1;
    this.#globalAvailable -= 1;
    return true;
  }

  /** Records the starts taken and when each key looked at is due for another look. */
  close(): void {
    for (const state of this.#keys.values()) {
      if (state) this.#gate.settle(state, this.#nowMs, this.#globalAvailable);
    }
  }

  #state(key: string): KeyInClaim | undefined {
    if (!this.#keys.has(key)) {
      this.#keys.set(key, this.#gate.evaluate(key, this.#nowMs, this.#globalAvailable));
    }
    return this.#keys.get(key);
  }
}

function storedRate(row: KeyRow): RateLimit | undefined {
  return row.rateMax > 0 ? { max: row.rateMax, periodMs: row.ratePeriodMs } : undefined;
}

function toConfiguration(row: ConfigRow): PendingConfiguration {
  return {
    ...(row.parallelism > 0 && { parallelism: row.parallelism }),
    ...(row.rate > 0 && { rate: { max: row.rate, periodMs: row.periodMs } }),
    pending: row.pending,
    newestCreatedAt: row.newestCreatedAt,
  };
}
