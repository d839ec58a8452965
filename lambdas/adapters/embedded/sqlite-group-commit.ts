import type Database from 'better-sqlite3';
import type { Message } from '../../core/message';
import type { MessageFilter } from '../../ports/listing';
import type {
  AttemptSettlement,
  DedupClaim,
  InsertResult,
  MessageStore,
  NewMessage,
} from '../../ports/message-store';
import { writeTransaction } from './sqlite-transaction';
import type { SqliteWriteLock } from './sqlite-write-lock';

type Pending = {
  readonly write: () => Promise<unknown>;
  /** The earliest due time of the messages the write stores (infinite when none). */
  readonly dueAt: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
};

/**
 * Writes per commit at most: a burst is cut into commits of this many, so one commit never holds
 * the event loop for long.
 */
const MAX_BATCH = 256;

/**
 * Group commit for the SQLite message store: the publishes and settlements that arrive in one
 * turn of the event loop are written in ONE SQLite transaction, each in its own savepoint (one
 * that fails is rolled back alone), and each caller's promise settles only once that transaction
 * has committed. An acknowledged publish is exactly as durable as before (its commit is in the
 * WAL before the answer is sent), but a burst shares one commit: the pages it touches go to the
 * WAL once per batch instead of once per message, which was most of a publish's cost.
 *
 * `onInserted` is called after each commit that stored messages, with the earliest due time
 * among them. A publish enqueues (wakes the delivery worker) before it stores, so the worker
 * must be told again once the messages can be seen.
 */
export class SqliteGroupCommit implements MessageStore {
  readonly #db: Database.Database;
  readonly #store: MessageStore;
  readonly #onInserted: (dueAt: number) => void;
  readonly #writeLock: SqliteWriteLock | undefined;
  #pending: Pending[] = [];
  /** A flush waits for the other thread's commit to end (writeLock). */
  #waitingForLock = false;

  /**
   * @param store the store whose writes are batched; its writes must be synchronous on `db`
   *   (better-sqlite3), so that they run inside the batch's transaction.
   * @param writeLock shared with the group commit of another thread writing the same database:
   *   a batch commits only while it holds the lock, and waits for it without blocking.
   */
  constructor(
    db: Database.Database,
    store: MessageStore,
    onInserted: (dueAt: number) => void,
    writeLock?: SqliteWriteLock,
  ) {
    this.#db = db;
    this.#store = store;
    this.#onInserted = onInserted;
    this.#writeLock = writeLock;
  }

  insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult> {
    return this.#enqueue(message.notBefore, () => this.#store.insertMessage(message, dedup, nowMs));
  }

  insertMessages(messages: readonly NewMessage[], nowMs: number): Promise<InsertResult[]> {
    const dueAt = Math.min(...messages.map(({ message }) => message.notBefore));
    return this.#enqueue(dueAt, () => this.#store.insertMessages(messages, nowMs));
  }

  settleAttempt(settlement: AttemptSettlement): Promise<AttemptSettlement | undefined> {
    const dueAt = Math.min(...settlement.callbacks.map((callback) => callback.notBefore));
    return this.#enqueue(dueAt, () => this.#store.settleAttempt(settlement));
  }

  getMessage(messageId: string): Promise<Message | undefined> {
    return this.#store.getMessage(messageId);
  }

  getPendingMessage(messageId: string): Promise<Message | undefined> {
    return this.#store.getPendingMessage(messageId);
  }

  cancelMessages(filter: MessageFilter, nowMs: number, limit?: number): Promise<number> {
    return this.#store.cancelMessages(filter, nowMs, limit);
  }

  /**
   * Runs `write`, synchronous on `db`, in the next batch's transaction (its own savepoint), and
   * resolves with its result once that has committed. The delivery worker claims this way: its
   * leases share the commit of the publishes and settlements around them instead of each claim
   * paying for a commit of its own.
   */
  commit<T>(write: () => T): Promise<T> {
    return this.#enqueue(Number.POSITIVE_INFINITY, async () => write());
  }

  #enqueue<T>(dueAt: number, write: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.length === 0) setImmediate(() => this.#flush());
      this.#pending.push({ write, dueAt, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #flush(): void {
    const lock = this.#writeLock;
    if (!lock) {
      this.#commitBatch();
      return;
    }
    if (this.#waitingForLock) return;
    if (!lock.tryAcquire()) {
      // The writes stay queued (a write enqueued meanwhile joins them) until the lock is free.
      this.#waitingForLock = true;
      lock.whenFree(() => {
        this.#waitingForLock = false;
        this.#flush();
      });
      return;
    }
    try {
      this.#commitBatch();
    } finally {
      lock.release();
    }
  }

  #commitBatch(): void {
    const batch = this.#pending.splice(0, MAX_BATCH);
    if (this.#pending.length > 0) setImmediate(() => this.#flush());
    const results: Promise<unknown>[] = [];
    try {
      writeTransaction(this.#db, () => {
        for (const pending of batch) results.push(attempt(pending.write));
      })();
    } catch (error) {
      // The transaction itself failed (BEGIN or COMMIT): nothing of the batch was written.
      for (const result of results) result.catch(() => {});
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      results[index]!.then(pending.resolve, pending.reject);
    });
    const earliest = Math.min(...batch.map((pending) => pending.dueAt));
    if (Number.isFinite(earliest)) this.#onInserted(earliest);
  }
}

/** Runs `write`, turning a synchronous throw into a rejection like an async one. */
function attempt(write: () => Promise<unknown>): Promise<unknown> {
  try {
    return write();
  } catch (error) {
    return Promise.reject(error);
  }
}
