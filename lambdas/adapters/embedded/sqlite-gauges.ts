import type Database from 'better-sqlite3';

/** Running schedules have a next tick; paused ones wait for a resume. */
export type ScheduleCounts = { readonly running: number; readonly paused: number };

/**
 * The embedded store's sizes for the metrics gauges, each cheap to read on every scrape however
 * many messages are kept: none of them scans the messages table. The pending count reads the
 * pending index, which holds only the messages not yet delivered, failed or canceled.
 */
export class SqliteGauges {
  readonly #statements;

  constructor(db: Database.Database) {
    this.#statements = {
      // Covered by the messages_pending index (its condition is the query's).
      pending: db.prepare('SELECT COUNT(*) FROM messages WHERE due_at IS NOT NULL').pluck(),
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
  }

  /** Messages not yet delivered, failed or canceled: waiting, due for a retry, or in flight. */
  pendingMessages(): number {
    return this.#statements.pending.get() as number;
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
