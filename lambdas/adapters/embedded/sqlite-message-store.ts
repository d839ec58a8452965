import type Database from 'better-sqlite3';
import type { LogEvent, Message } from '../../core/message';
import { decodeMessage, encodeMessageFields } from '../../core/message-codec';
import {
  cancelEvents,
  canceledEvent,
  canceledSettlement,
  destinationHostAndPath,
} from '../../core/messages';
import type { MessageFilter } from '../../ports/listing';
import type {
  AttemptSettlement,
  DedupClaim,
  InsertResult,
  MessageStore,
  NewMessage,
} from '../../ports/message-store';
import type { FlowClaim } from './sqlite-flow-control';
import { SqliteFlowControl } from './sqlite-flow-control';
import { messageFilterSql, whereAll } from './sqlite-listing';
import { writeTransaction } from './sqlite-transaction';

/** A message taken for an attempt, with the attempt number it is on. */
export type ClaimedMessage = { message: Message; retried: number };

/** A cap on attempts in flight to one destination origin, for claimDueWithin. */
export type OriginLimits = {
  /** Most attempts in flight to one origin. */
  readonly max: number;
  /** Attempts in flight now, by origin (originOf). */
  readonly inFlight: ReadonlyMap<string, number>;
  /**
   * Look past the due messages of origins at their cap, however many, for those of other
   * origins queued behind them. It scans the due index (not the rows), so a caller with a capped
   * origin does it now and then rather than on every claim.
   */
  readonly lookPastCapped: boolean;
};

/** What claimDueWithin took, and whether due messages wait for an origin at its cap. */
export type OriginClaim = {
  readonly claimed: ClaimedMessage[];
  /** Due messages were passed over for their origin's cap (or were not looked at, past one). */
  readonly passedOver: boolean;
};

/**
 * The scheme, host and port of a URL, lowercased: what the per-destination cap counts by. A
 * string match rather than `new URL`, since it runs for every due message the claim looks at.
 */
export function originOf(url: string): string {
  return (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0] ?? url).toLowerCase();
}

type MessageRow = { fields: string; body: Buffer; retried: number };
type LeasedRow = MessageRow & { seq: number };
type SettlingRow = { cancelAt: number | null; name: string | null; seq: number | null };
/** A candidate of a claim, by its rowid: the due index holds it, so finding one reads no row. */
type DueRow = { seq: number; dueAt: number; origin: string; flowKey?: string | null };
type WindowRow = DueRow & { leaseUntil: number | null };
type QueuePosition = { name: string; seq: number };
type CancelRow = { id: string; url: string; leaseUntil: number | null };

/**
 * The embedded runtime's store: messages, dedup keys, event log and DLQ in one SQLite file.
 * Each message is one row from its creation until retention sweeps it (sqlite-retention.ts):
 * pending while `due_at` is set, finished (delivered, failed, canceled) once `finished_at` is.
 * The row is also the message's CREATED log entry, so a publish writes that one row (and its
 * dedup claim); attempts append events. The due-time index doubles as the delivery queue; a
 * lease marks a message in flight. A flow-controlled message waits in its key's waitlist
 * instead, and a claim takes it only as far as its key lets (the gate, sqlite-flow-control.ts). better-sqlite3 is synchronous, so each method is one
 * transaction and never interleaves.
 */
export class SqliteMessageStore implements MessageStore {
  readonly #statements;
  readonly #insert: (messages: readonly NewMessage[], nowMs: number) => InsertResult[];
  readonly #settle: (settlement: AttemptSettlement) => AttemptSettlement;
  readonly #insertNew: (message: Message) => void;
  readonly #cancel: (filter: MessageFilter, nowMs: number, limit: number | undefined) => number;
  readonly #release: (messageId: string, dueAt: number | undefined) => void;
  readonly #releaseAll: () => number;
  readonly #onChange: () => void;
  readonly #flowControl: SqliteFlowControl;

  readonly #claim: (
    nowMs: number,
    limit: number,
    leaseUntil: number,
    origins: OriginLimits | undefined,
  ) => OriginClaim;

  /**
   * @param onChange called after a cancel removed waiting messages, which may let the next
   *   messages of their FIFO queues start.
   * @param flowControl the gate flow-controlled messages are claimed through.
   */
  constructor(
    db: Database.Database,
    onChange: () => void = () => {},
    flowControl: SqliteFlowControl = new SqliteFlowControl(db, undefined, onChange),
  ) {
    this.#onChange = onChange;
    this.#flowControl = flowControl;
    const statements = {
      // A new queued message takes the rowid it is about to get as its place in the queue
      // (MAX(seq) + 1 is the rowid SQLite assigns), so queue order is creation order; a callback
      // passes its source's place instead.
      insertMessage: db.prepare(
        `INSERT INTO messages (id, created_at, url, origin, host, path, topic_name, queue_name,
           schedule_id, caller_ip, labels, fields, state, due_at, fifo_queue, fifo_seq, body,
           flow_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'CREATED', ?, ?,
           COALESCE(?, CASE WHEN ? IS NOT NULL THEN (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages) END),
           ?, ?)`,
      ),
      // What a settlement must know of its message: whether a cancel waits for it, and its place
      // in a FIFO queue (which the callbacks it creates take).
      settling: db.prepare(
        `SELECT cancel_requested_at AS cancelAt, fifo_queue AS name, fifo_seq AS seq
         FROM messages WHERE id = ?`,
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
      // Delivered and canceled messages stay for the log, but are no longer the store's.
      getMessage: db.prepare(
        `SELECT fields, body, retried FROM messages
         WHERE id = ? AND state NOT IN ('DELIVERED', 'CANCELED')`,
      ),
      finish: db.prepare(
        `UPDATE messages SET state = ?, due_at = NULL, lease_until = NULL, finished_at = ?
         WHERE id = ?`,
      ),
      scheduleRetry: db.prepare(
        `UPDATE messages SET state = 'RETRY', retried = ?, due_at = ?, lease_until = NULL WHERE id = ?`,
      ),
      insertDeadLetter: db.prepare(
        `INSERT INTO dlq (dlq_id, message_id, failed_at, response_status, fields, response_body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      // Flow-controlled messages wait in their key's waitlist, claimed through the gate.
      dueUnqueued: db.prepare(
        `SELECT seq, due_at AS dueAt, origin FROM messages
         WHERE due_at <= ? AND lease_until IS NULL AND fifo_queue IS NULL AND flow_key IS NULL
         ORDER BY due_at LIMIT ?`,
      ),
      // The origins to pass over come as a JSON array; origin is in the due index, so the
      // messages passed over are never read.
      dueUnqueuedExcept: db.prepare(
        `SELECT seq, due_at AS dueAt, origin FROM messages
         WHERE due_at <= ? AND lease_until IS NULL AND fifo_queue IS NULL AND flow_key IS NULL
           AND origin NOT IN (SELECT value FROM json_each(?))
         ORDER BY due_at LIMIT ?`,
      ),
      activeQueues: db.prepare('SELECT name, parallelism FROM queues WHERE paused = 0'),
      // The open messages at the head of a queue: those in its first `parallelism` positions.
      queueWindow: db.prepare(
        `SELECT seq, due_at AS dueAt, lease_until AS leaseUntil, origin, flow_key AS flowKey
         FROM messages
         WHERE fifo_queue = @name AND due_at IS NOT NULL AND fifo_seq IN (
           SELECT DISTINCT fifo_seq FROM messages
           WHERE fifo_queue = @name AND due_at IS NOT NULL ORDER BY fifo_seq LIMIT @parallelism
         )`,
      ),
      // The rowids come as a JSON array: one statement leases every message a claim takes.
      lease: db.prepare(
        `UPDATE messages SET lease_until = ?, state = 'ACTIVE'
         WHERE seq IN (SELECT value FROM json_each(?))
         RETURNING seq, fields, body, retried`,
      ),
      nextDueUnqueued: db.prepare(
        `SELECT MIN(due_at) AS dueAt FROM messages
         WHERE due_at IS NOT NULL AND lease_until IS NULL AND fifo_queue IS NULL AND flow_key IS NULL`,
      ),
      release: db.prepare(
        `UPDATE messages SET lease_until = NULL, due_at = COALESCE(?, due_at),
           state = CASE WHEN retried = 0 THEN 'CREATED' ELSE 'RETRY' END
         WHERE id = ?`,
      ),
      releaseAll: db.prepare(
        `UPDATE messages SET lease_until = NULL, state = CASE WHEN retried = 0 THEN 'CREATED' ELSE 'RETRY' END
         WHERE due_at IS NOT NULL AND lease_until IS NOT NULL`,
      ),
      // A message is pending while it may still be attempted (due_at is cleared when it
      // finishes) and no cancel is waiting for its attempt to settle.
      getPending: db.prepare(
        `SELECT fields, body, retried FROM messages
         WHERE id = ? AND due_at IS NOT NULL AND cancel_requested_at IS NULL`,
      ),
      markCancelRequested: db.prepare('UPDATE messages SET cancel_requested_at = ? WHERE id = ?'),
      canceledLeases: db.prepare(
        `SELECT id, url, cancel_requested_at AS at FROM messages
         WHERE due_at IS NOT NULL AND lease_until IS NOT NULL AND cancel_requested_at IS NOT NULL
           AND (@id IS NULL OR id = @id)`,
      ),
    };
    this.#statements = statements;

    const insertNew = (message: Message, position?: QueuePosition) => {
      const { host, path } = destinationHostAndPath(message.url);
      const fifoQueue = position?.name ?? message.queueName ?? null;
      statements.insertMessage.run(
        message.messageId,
        message.createdAt,
        message.url,
        originOf(message.url),
        host,
        path,
        message.topicName ?? null,
        message.queueName ?? null,
        message.scheduleId ?? null,
        message.callerIp ?? null,
        JSON.stringify(message.labels),
        encodeMessageFields(message),
        message.notBefore,
        fifoQueue,
        position?.seq ?? null,
        fifoQueue,
        message.body,
        message.flowControl?.key ?? null,
      );
    };
    this.#insertNew = (message) => insertNew(message);

    this.#insert = writeTransaction(
      db,
      (messages: readonly NewMessage[], nowMs: number): InsertResult[] =>
        messages.map(({ message, dedup }): InsertResult => {
          if (dedup) {
            const holder = statements.findDedup.get(dedup.key) as
              | { messageId: string; expiresAt: number }
              | undefined;
            // An expired claim is as good as none: the key may publish again (the dedup window).
            if (holder && holder.expiresAt > nowMs)
              return { inserted: false, existingMessageId: holder.messageId };
            statements.upsertDedup.run(dedup.key, message.messageId, dedup.expiresAt);
          }
          insertNew(message);
          return { inserted: true };
        }),
    );

    this.#claim = writeTransaction(
      db,
      (nowMs: number, limit: number, leaseUntil: number, origins: OriginLimits | undefined) => {
        const capped = origins
          ? [...origins.inFlight].filter(([, count]) => count >= origins.max).map(([o]) => o)
          : [];
        const lookPast = origins?.lookPastCapped === true && capped.length > 0;
        const unqueued = (
          lookPast
            ? statements.dueUnqueuedExcept.all(nowMs, JSON.stringify(capped), limit)
            : statements.dueUnqueued.all(nowMs, limit)
        ) as DueRow[];
        const flow = this.#flowControl.openClaim(nowMs, limit);
        const candidates: DueRow[] = [...unqueued, ...flow.candidates];
        for (const row of this.#queueWindows()) {
          if (row.leaseUntil === null && row.dueAt <= nowMs) candidates.push(row);
        }
        candidates.sort((a, b) => a.dueAt - b.dueAt);
        const { taken, skipped } = takeCandidates(candidates, limit, origins, flow);
        const leased = new Map(
          (
            statements.lease.all(
              leaseUntil,
              JSON.stringify(taken.map(({ seq }) => seq)),
            ) as LeasedRow[]
          ).map((row) => [row.seq, row]),
        );
        // In the order taken (earliest due first), which RETURNING does not promise.
        const claimed = taken.map(({ seq }) => {
          const row = leased.get(seq)!;
          return { message: decodeMessage(row.fields, row.body), retried: row.retried };
        });
        flow.close();
        return { claimed, passedOver: skipped > 0 || (lookPast && claimed.length < limit) };
      },
    );

    this.#settle = writeTransaction(db, (proposed: AttemptSettlement): AttemptSettlement => {
      // Read in the transaction that settles, so a cancel cannot slip in between, and before the
      // message leaves its queue: the callbacks take its place there.
      const row = statements.settling.get(proposed.message.messageId) as SettlingRow | undefined;
      const settlement = row?.cancelAt != null ? canceledSettlement(proposed) : proposed;
      const { message, outcome } = settlement;
      const position: QueuePosition | undefined =
        row?.name != null ? { name: row.name, seq: row.seq! } : undefined;
      let finishedAt = 0;
      for (const event of settlement.events) {
        this.#appendEvent(event);
        finishedAt = Math.max(finishedAt, event.time);
      }
      if (outcome.kind === 'delivered') {
        statements.finish.run('DELIVERED', finishedAt, message.messageId);
      } else if (outcome.kind === 'canceled') {
        statements.finish.run('CANCELED', finishedAt, message.messageId);
      } else if (outcome.kind === 'retry') {
        statements.scheduleRetry.run(settlement.retried + 1, outcome.retryAt, message.messageId);
      } else {
        const { deadLetter } = outcome;
        statements.finish.run('FAILED', deadLetter.failedAt, message.messageId);
        statements.insertDeadLetter.run(
          deadLetter.dlqId,
          deadLetter.messageId,
          deadLetter.failedAt,
          deadLetter.responseStatus,
          JSON.stringify({ responseHeader: deadLetter.responseHeader, error: deadLetter.error }),
          deadLetter.responseBody,
        );
      }
      for (const callback of settlement.callbacks) insertNew(callback, position);
      return settlement;
    });

    this.#cancel = writeTransaction(
      db,
      (filter: MessageFilter, nowMs: number, limit: number | undefined): number => {
        const where = whereAll([
          { sql: 'm.due_at IS NOT NULL AND m.cancel_requested_at IS NULL', params: [] },
          ...messageFilterSql(filter, { id: 'm.id', date: 'm.created_at', message: 'm' }),
        ]);
        const rows = db
          .prepare(
            `SELECT m.id, m.url, m.lease_until AS leaseUntil FROM messages m
             WHERE ${where.sql} ORDER BY m.created_at, m.id LIMIT ?`,
          )
          .all(...where.params, limit ?? -1) as CancelRow[];
        for (const row of rows) {
          const inFlight = row.leaseUntil !== null;
          for (const event of cancelEvents({ messageId: row.id, url: row.url }, nowMs, inFlight)) {
            this.#appendEvent(event);
          }
          if (inFlight) statements.markCancelRequested.run(nowMs, row.id);
          else statements.finish.run('CANCELED', nowMs, row.id);
        }
        return rows.length;
      },
    );

    // An attempt given back uncounted must not run again for a message canceled meanwhile.
    const endCanceled = (messageId: string | null): number => {
      const rows = statements.canceledLeases.all({ id: messageId }) as {
        id: string;
        url: string;
        at: number;
      }[];
      for (const row of rows) {
        this.#appendEvent(canceledEvent({ messageId: row.id, url: row.url }, row.at));
        statements.finish.run('CANCELED', row.at, row.id);
      }
      return rows.length;
    };
    this.#release = writeTransaction(db, (messageId: string, dueAt: number | undefined) => {
      if (endCanceled(messageId) === 0) statements.release.run(dueAt ?? null, messageId);
    });
    this.#releaseAll = writeTransaction(
      db,
      () => endCanceled(null) + statements.releaseAll.run().changes,
    );
  }

  /** Appends an event; its `url` is not stored, since it is always its message's. */
  #appendEvent(event: LogEvent): void {
    const { time, messageId, state, url: _url, ...fields } = event;
    this.#statements.insertEvent.run(time, messageId, state, JSON.stringify(fields));
  }

  async insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult> {
    return this.#insert([{ message, dedup }], nowMs)[0]!;
  }

  async insertMessages(messages: readonly NewMessage[], nowMs: number): Promise<InsertResult[]> {
    return this.#insert(messages, nowMs);
  }

  async getMessage(messageId: string): Promise<Message | undefined> {
    const row = this.#statements.getMessage.get(messageId) as MessageRow | undefined;
    return row && decodeMessage(row.fields, row.body);
  }

  async settleAttempt(settlement: AttemptSettlement): Promise<AttemptSettlement> {
    return this.#settle(settlement);
  }

  async getPendingMessage(messageId: string): Promise<Message | undefined> {
    const row = this.#statements.getPending.get(messageId) as MessageRow | undefined;
    return row && decodeMessage(row.fields, row.body);
  }

  async cancelMessages(filter: MessageFilter, nowMs: number, limit?: number): Promise<number> {
    const cancelled = this.#cancel(filter, nowMs, limit);
    if (cancelled > 0) this.#onChange();
    return cancelled;
  }

  /**
   * Stores a new message (its row is its CREATED log entry), for another SQLite adapter to call
   * inside its own transaction (the DLQ's retry), so every message is created the same way.
   */
  insertCreated(message: Message): void {
    this.#insertNew(message);
  }

  /**
   * Leases up to `limit` due messages, earliest first, until `leaseUntil`. A queued message is
   * due only while it is in its queue's window: among the first `parallelism` open positions of
   * a queue that is not paused.
   */
  claimDue(nowMs: number, limit: number, leaseUntil: number): ClaimedMessage[] {
    return this.#claim(nowMs, limit, leaseUntil, undefined).claimed;
  }

  /**
   * As claimDue, but passes over the due messages of origins that already have `origins.max`
   * attempts in flight (counting those it takes), so one slow destination cannot take every
   * slot: the others' messages behind it are claimed instead (`lookPastCapped`).
   */
  claimDueWithin(
    nowMs: number,
    limit: number,
    leaseUntil: number,
    origins: OriginLimits,
  ): OriginClaim {
    return this.#claim(nowMs, limit, leaseUntil, origins);
  }

  /**
   * The earliest time a claim at `nowMs` or later could take something: a message falling due,
   * or a flow-control key due for a look (a rate slot frees).
   */
  nextDueAt(nowMs: number): number | undefined {
    const unqueued = (this.#statements.nextDueUnqueued.get() as { dueAt: number | null }).dueAt;
    let earliest = Math.min(
      unqueued ?? Number.POSITIVE_INFINITY,
      this.#flowControl.nextWakeAt() ?? Number.POSITIVE_INFINITY,
    );
    for (const row of this.#queueWindows()) {
      // A due flow-controlled head the last claim left waits for its key: the gate wakes it.
      const waitsForItsKey = row.flowKey != null && row.dueAt <= nowMs;
      if (row.leaseUntil === null && !waitsForItsKey) earliest = Math.min(earliest, row.dueAt);
    }
    return Number.isFinite(earliest) ? earliest : undefined;
  }

  #queueWindows(): WindowRow[] {
    const queues = this.#statements.activeQueues.all() as { name: string; parallelism: number }[];
    return queues.flatMap((queue) => this.#statements.queueWindow.all(queue) as WindowRow[]);
  }

  /**
   * Gives back a message whose attempt was abandoned (shutdown, or a fault before it could be
   * settled) without counting it; `dueAt` postpones it, otherwise it keeps its due time.
   */
  release(messageId: string, dueAt?: number): void {
    this.#release(messageId, dueAt);
  }

  /**
   * Frees every lease. Only safe at start-up: one process owns a data directory, so a lease
   * found then belongs to a process that died mid-attempt, and its message is due again.
   */
  releaseAll(): number {
    return this.#releaseAll();
  }
}

/**
 * Takes candidates in order, at most `limit`: none past its origin's cap (those are counted as
 * skipped), and a flow-controlled one only if its key lets it start now.
 */
function takeCandidates(
  candidates: readonly DueRow[],
  limit: number,
  origins: OriginLimits | undefined,
  flow: FlowClaim,
): { taken: DueRow[]; skipped: number } {
  const inFlight = new Map(origins?.inFlight);
  const taken: DueRow[] = [];
  let skipped = 0;
  for (const row of candidates) {
    if (taken.length === limit) break;
    const count = inFlight.get(row.origin) ?? 0;
    if (origins && count >= origins.max) {
      skipped += 1;
    } else if (row.flowKey == null || flow.take(row.flowKey)) {
      inFlight.set(row.origin, count + 1);
      taken.push(row);
    }
  }
  return { taken, skipped };
}
