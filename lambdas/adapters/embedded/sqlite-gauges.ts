import type Database from 'better-sqlite3';

/** Running schedules have a next tick; paused ones wait for a resume. */
export type ScheduleCounts = { readonly running: number; readonly paused: number };

/**
 * The embedded store's sizes for the metrics gauges, each cheap to read on every scrape however
 * many messages there are: none of them scans the messages.
 *
 * The pending count (messages neither delivered, failed nor canceled, in flight included) is
 * counted once at start, then kept up to date from the event log, which records every change of
 * state (ARCHITECTURE.md): each message has one CREATED event and at most one of DELIVERED,
 * FAILED or CANCELED, whatever path created or ended it (publish, callback, DLQ retry, cancel,
 * queue deletion). Each read looks only at the events appended since the last one.
 */
export class SqliteGauges {
  readonly #statements;
  #pending: number;
  #lastSeq: number;

  /**
   * Counts the pending messages: one pass over the messages table, like the start-up lease
   * recovery, so create it at start, before any attempt leases a message.
   */
  constructor(db: Database.Database) {
    this.#statements = {
      lastSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM events').pluck(),
      open: db.prepare('SELECT COUNT(*) FROM messages WHERE due_at IS NOT NULL').pluck(),
      changes: db.prepare(
        `SELECT COUNT(*) FILTER (WHERE state = 'CREATED') AS created,
           COUNT(*) FILTER (WHERE state IN ('DELIVERED', 'FAILED', 'CANCELED')) AS finished
         FROM events WHERE seq > ? AND seq <= ?`,
      ),
      // SQLite counts a table without a condition from its pages, not its rows.
      deadLetters: db.prepare('SELECT COUNT(*) FROM dlq').pluck(),
      schedules: db.prepare('SELECT COUNT(*) FROM schedules').pluck(),
      // Covered by the schedules_next index.
      running: db
        .prepare(
          'SELECT COUNT(*) FROM schedules WHERE next_schedule_time IS NOT NULL AND paused = 0',
        )
        .pluck(),
    };
    const counted = db.transaction(() => ({
      lastSeq: this.#statements.lastSeq.get() as number,
      open: this.#statements.open.get() as number,
    }))();
    this.#lastSeq = counted.lastSeq;
    this.#pending = counted.open;
  }

  /** Messages not yet delivered, failed or canceled: waiting, due for a retry, or in flight. */
  pendingMessages(): number {
    const upTo = this.#statements.lastSeq.get() as number;
    if (upTo > this.#lastSeq) {
      const { created, finished } = this.#statements.changes.get(this.#lastSeq, upTo) as {
        created: number;
        finished: number;
      };
      this.#pending += created - finished;
      this.#lastSeq = upTo;
    }
    return this.#pending;
  }

  /**
   * Also reads the new events every `everyMs`, not only when scraped: an event the retention
   * sweep removed before it was read would go uncounted (on a server nobody scrapes). Returns
   * the function that stops it, to call before the database is closed.
   */
  keepUp(everyMs: number): () => void {
    const timer = setInterval(() => {
      try {
        this.pendingMessages();
      } catch {
        // The database failed; the next scrape reports it, and /healthz says so.
      }
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Entries in the dead-letter queue. */
  deadLetters(): number {
    return this.#statements.deadLetters.get() as number;
  }

  schedules(): ScheduleCounts {
    const total = this.#statements.schedules.get() as number;
    const running = this.#statements.running.get() as number;
    return { running, paused: total - running };
  }
}
