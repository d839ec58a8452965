import type Database from 'better-sqlite3';
import type { LogEvent, Message } from '../../core/message';
import { decodeMessage, encodeMessageFields } from '../../core/message-codec';
import type {
  AttemptSettlement,
  DedupClaim,
  InsertResult,
  MessageStore,
} from '../../ports/message-store';

/** A message taken for an attempt, with the attempt number it is on. */
export type ClaimedMessage = { message: Message; retried: number };

type MessageRow = { fields: string; body: Buffer; retried: number };

/**
 * The embedded runtime's store: messages, dedup keys, event log and DLQ in one SQLite file.
 * The due-time index doubles as the delivery queue; a lease marks a message in flight.
 * better-sqlite3 is synchronous, so each method is one transaction and never interleaves.
 */
export class SqliteMessageStore implements MessageStore {
  readonly #statements;
  readonly #insert: (
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ) => InsertResult;
  readonly #settle: (settlement: AttemptSettlement) => void;

  constructor(db: Database.Database) {
    const statements = {
      insertMessage: db.prepare(
        `INSERT INTO messages (id, fields, body, state, retried, due_at, created_at)
         VALUES (?, ?, ?, 'CREATED', 0, ?, ?)`,
      ),
      insertEvent: db.prepare(
        'INSERT INTO events (time, message_id, state, fields) VALUES (?, ?, ?, ?)',
      ),
      findDedup: db.prepare(
        'SELECT message_id AS messageId, expires_at AS expiresAt FROM dedup_keys WHERE key = ?',
      ),
      upsertDedup: db.prepare(
        `INSERT INTO dedup_keys (key, message_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET message_id = excluded.message_id, expires_at = excluded.expires_at`,
      ),
      getMessage: db.prepare('SELECT fields, body, retried FROM messages WHERE id = ?'),
      deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
      scheduleRetry: db.prepare(
        `UPDATE messages SET state = 'RETRY', retried = ?, due_at = ?, lease_until = NULL WHERE id = ?`,
      ),
      markFailed: db.prepare(
        `UPDATE messages SET state = 'FAILED', due_at = NULL, lease_until = NULL WHERE id = ?`,
      ),
      insertDeadLetter: db.prepare(
        `INSERT INTO dlq (dlq_id, message_id, failed_at, response_status, fields, response_body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      claimDue: db.prepare(
        `UPDATE messages SET lease_until = ?, state = 'ACTIVE'
         WHERE id IN (
           SELECT id FROM messages WHERE due_at <= ? AND lease_until IS NULL ORDER BY due_at LIMIT ?
         )
         RETURNING fields, body, retried, due_at AS dueAt`,
      ),
      nextDueAt: db.prepare(
        'SELECT MIN(due_at) AS dueAt FROM messages WHERE due_at IS NOT NULL AND lease_until IS NULL',
      ),
      release: db.prepare(
        `UPDATE messages SET lease_until = NULL, due_at = COALESCE(?, due_at),
           state = CASE WHEN retried = 0 THEN 'CREATED' ELSE 'RETRY' END
         WHERE id = ?`,
      ),
      releaseAll: db.prepare(
        `UPDATE messages SET lease_until = NULL, state = CASE WHEN retried = 0 THEN 'CREATED' ELSE 'RETRY' END
         WHERE lease_until IS NOT NULL`,
      ),
    };
    this.#statements = statements;

    const insertNew = (message: Message, nowMs: number) => {
      statements.insertMessage.run(
        message.messageId,
        encodeMessageFields(message),
        message.body,
        message.notBefore,
        message.createdAt,
      );
      this.#appendEvent({
        time: nowMs,
        messageId: message.messageId,
        state: 'CREATED',
        url: message.url,
      });
    };

    this.#insert = db.transaction(
      (message: Message, dedup: DedupClaim | undefined, nowMs: number): InsertResult => {
        if (dedup) {
          const holder = statements.findDedup.get(dedup.key) as
            | { messageId: string; expiresAt: number }
            | undefined;
          // An expired claim is as good as none: the key may publish again (the dedup window).
          if (holder && holder.expiresAt > nowMs)
            return { inserted: false, existingMessageId: holder.messageId };
          statements.upsertDedup.run(dedup.key, message.messageId, dedup.expiresAt);
        }
        insertNew(message, nowMs);
        return { inserted: true };
      },
    );

    this.#settle = db.transaction((settlement: AttemptSettlement) => {
      const { message, outcome } = settlement;
      for (const event of settlement.events) this.#appendEvent(event);
      if (outcome.kind === 'delivered') {
        statements.deleteMessage.run(message.messageId);
      } else if (outcome.kind === 'retry') {
        statements.scheduleRetry.run(settlement.retried + 1, outcome.retryAt, message.messageId);
      } else {
        const { deadLetter } = outcome;
        statements.markFailed.run(message.messageId);
        statements.insertDeadLetter.run(
          deadLetter.dlqId,
          deadLetter.messageId,
          deadLetter.failedAt,
          deadLetter.responseStatus,
          JSON.stringify({ responseHeader: deadLetter.responseHeader, error: deadLetter.error }),
          deadLetter.responseBody,
        );
      }
      for (const callback of settlement.callbacks) insertNew(callback, callback.createdAt);
    });
  }

  #appendEvent(event: LogEvent): void {
    const { time, messageId, state, ...fields } = event;
    this.#statements.insertEvent.run(time, messageId, state, JSON.stringify(fields));
  }

  async insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult> {
    return this.#insert(message, dedup, nowMs);
  }

  async getMessage(messageId: string): Promise<Message | undefined> {
    const row = this.#statements.getMessage.get(messageId) as MessageRow | undefined;
    return row && decodeMessage(row.fields, row.body);
  }

  async settleAttempt(settlement: AttemptSettlement): Promise<void> {
    this.#settle(settlement);
  }

  /** Leases up to `limit` due messages, earliest first, until `leaseUntil`. */
  claimDue(nowMs: number, limit: number, leaseUntil: number): ClaimedMessage[] {
    const rows = this.#statements.claimDue.all(leaseUntil, nowMs, limit) as (MessageRow & {
      dueAt: number;
    })[];
    // RETURNING yields rows in the order they were updated, not the subquery's ORDER BY.
    rows.sort((a, b) => a.dueAt - b.dueAt);
    return rows.map((row) => ({
      message: decodeMessage(row.fields, row.body),
      retried: row.retried,
    }));
  }

  /** The earliest due time of a message not in flight, if any. */
  nextDueAt(): number | undefined {
    const row = this.#statements.nextDueAt.get() as { dueAt: number | null };
    return row.dueAt ?? undefined;
  }

  /**
   * Gives back a message whose attempt was abandoned (shutdown, or a fault before it could be
   * settled) without counting it; `dueAt` postpones it, otherwise it keeps its due time.
   */
  release(messageId: string, dueAt?: number): void {
    this.#statements.release.run(dueAt ?? null, messageId);
  }

  /**
   * Frees every lease. Only safe at start-up: one process owns a data directory, so a lease
   * found then belongs to a process that died mid-attempt, and its message is due again.
   */
  releaseAll(): number {
    return this.#statements.releaseAll.run().changes;
  }
}
