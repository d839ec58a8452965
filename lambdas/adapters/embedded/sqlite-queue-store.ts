import type Database from 'better-sqlite3';
import type { Queue, QueueSettings, QueueStore } from '../../ports/queue-store';
import { writeTransaction } from './sqlite-transaction';

/** A queue's first messages start one at a time unless its parallelism says otherwise. */
const DEFAULT_PARALLELISM = 1;

type QueueRow = {
  name: string;
  parallelism: number;
  paused: number;
  createdAt: number;
  updatedAt: number;
  lag: number;
};

/**
 * FIFO queues in SQLite. A queue's order lives with its messages (`fifo_seq`); this store
 * keeps the settings, and tells the delivery worker when a change may let messages start.
 */
export class SqliteQueueStore implements QueueStore {
  readonly #statements;
  readonly #onChange: () => void;
  readonly #delete: (name: string, nowMs: number) => boolean;

  /** @param onChange called after a change that may make queued messages deliverable. */
  constructor(db: Database.Database, onChange: () => void) {
    this.#onChange = onChange;
    const select = `SELECT q.name, q.parallelism, q.paused, q.created_at AS createdAt, q.updated_at AS updatedAt,
        (SELECT COUNT(DISTINCT fifo_seq) FROM messages m
         WHERE m.fifo_queue = q.name AND m.due_at IS NOT NULL) AS lag
      FROM queues q`;
    const statements = {
      upsert: db.prepare(
        `INSERT INTO queues (name, parallelism, paused, created_at, updated_at)
         VALUES (@name, COALESCE(@parallelism, ${DEFAULT_PARALLELISM}), COALESCE(@paused, 0), @now, @now)
         ON CONFLICT (name) DO UPDATE SET
           parallelism = COALESCE(@parallelism, parallelism),
           paused = COALESCE(@paused, paused),
           updated_at = @now`,
      ),
      ensure: db.prepare(
        `INSERT INTO queues (name, parallelism, paused, created_at, updated_at)
         VALUES (?, ${DEFAULT_PARALLELISM}, 0, ?, ?) ON CONFLICT (name) DO NOTHING`,
      ),
      get: db.prepare(`${select} WHERE q.name = ?`),
      list: db.prepare(`${select} ORDER BY q.name`),
      deleteQueue: db.prepare('DELETE FROM queues WHERE name = ?'),
      // In-flight messages finish outside the queue; waiting ones are canceled with it.
      detachInFlight: db.prepare(
        `UPDATE messages SET fifo_queue = NULL
         WHERE fifo_queue = ? AND due_at IS NOT NULL AND lease_until IS NOT NULL`,
      ),
      waiting: db.prepare('SELECT id FROM messages WHERE fifo_queue = ? AND due_at IS NOT NULL'),
      cancel: db.prepare(
        `UPDATE messages SET state = 'CANCELED', due_at = NULL, finished_at = ? WHERE id = ?`,
      ),
      event: db.prepare('INSERT INTO events (time, message_id, state, fields) VALUES (?, ?, ?, ?)'),
    };
    this.#statements = statements;
    this.#delete = writeTransaction(db, (name: string, nowMs: number) => {
      statements.detachInFlight.run(name);
      for (const { id } of statements.waiting.all(name) as { id: string }[]) {
        statements.cancel.run(nowMs, id);
        for (const state of ['CANCEL_REQUESTED', 'CANCELED']) {
          statements.event.run(nowMs, id, state, JSON.stringify({ queueName: name }));
        }
      }
      return statements.deleteQueue.run(name).changes > 0;
    });
  }

  async upsertQueue(name: string, settings: Partial<QueueSettings>, nowMs: number): Promise<void> {
    this.#statements.upsert.run({
      name,
      now: nowMs,
      parallelism: settings.parallelism ?? null,
      paused: settings.paused === undefined ? null : Number(settings.paused),
    });
    this.#onChange();
  }

  async ensureQueue(name: string, nowMs: number): Promise<void> {
    this.#statements.ensure.run(name, nowMs, nowMs);
  }

  async getQueue(name: string): Promise<Queue | undefined> {
    const row = this.#statements.get.get(name) as QueueRow | undefined;
    return row && toQueue(row);
  }

  async listQueues(): Promise<Queue[]> {
    return (this.#statements.list.all() as QueueRow[]).map(toQueue);
  }

  async deleteQueue(name: string, nowMs: number): Promise<boolean> {
    return this.#delete(name, nowMs);
  }
}

function toQueue(row: QueueRow): Queue {
  return {
    name: row.name,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    parallelism: row.parallelism,
    paused: row.paused === 1,
    lag: row.lag,
  };
}
