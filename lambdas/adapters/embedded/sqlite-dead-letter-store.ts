import type Database from 'better-sqlite3';
import type { HeaderMap } from '../../core/headers';
import { decodeMessage } from '../../core/message-codec';
import type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterReplacement,
  DeadLetterStore,
} from '../../ports/dead-letter-store';
import type { ListQuery, Page } from '../../ports/listing';
import type { SqlCondition } from './sqlite-listing';
import {
  afterPosition,
  decodeCursor,
  inList,
  messageFilterSql,
  orderBy,
  pageOf,
  whereAll,
} from './sqlite-listing';
import type { SqliteMessageStore } from './sqlite-message-store';
import { writeTransaction } from './sqlite-transaction';

type DeadLetterRow = {
  dlqId: string;
  messageId: string;
  failedAt: number;
  responseStatus: number;
  deadLetterFields: string;
  responseBody: Buffer;
  messageFields: string;
  body: Buffer;
};

const SELECT = `SELECT d.dlq_id AS dlqId, d.message_id AS messageId, d.failed_at AS failedAt,
    d.response_status AS responseStatus, d.fields AS deadLetterFields,
    d.response_body AS responseBody, m.fields AS messageFields, m.body
  FROM dlq d JOIN messages m ON m.id = d.message_id`;

/**
 * The dead-letter queue in SQLite. Entries are written by SqliteMessageStore when an attempt
 * fails for good; the message they hold is read from its `messages` row, which stays (as a
 * failed message, for the log) when the entry is deleted or retried, until retention sweeps it.
 */
export class SqliteDeadLetterStore implements DeadLetterStore {
  readonly #db: Database.Database;
  readonly #statements;
  readonly #delete: (query: ListQuery<DeadLetterFilter>) => { deleted: number; cursor?: string };
  readonly #replace: (replacements: readonly DeadLetterReplacement[]) => { missing: string[] };

  /** @param messages creates the retried messages, the same way every message is created. */
  constructor(db: Database.Database, messages: SqliteMessageStore) {
    this.#db = db;
    const statements = {
      get: db.prepare(`${SELECT} WHERE d.dlq_id = ?`),
      remove: db.prepare('DELETE FROM dlq WHERE dlq_id = ?'),
    };
    this.#statements = statements;
    const remove = (dlqId: string) => statements.remove.run(dlqId);

    this.#delete = writeTransaction(db, (query: ListQuery<DeadLetterFilter>) => {
      const page = this.#page(query);
      for (const row of page.rows) remove(row.dlqId);
      return {
        deleted: page.rows.length,
        ...(page.cursor !== undefined && { cursor: page.cursor }),
      };
    });

    this.#replace = writeTransaction(db, (replacements: readonly DeadLetterReplacement[]) => {
      const missing = replacements
        .filter(({ dlqId }) => statements.get.get(dlqId) === undefined)
        .map(({ dlqId }) => dlqId);
      if (missing.length > 0) return { missing };
      for (const { dlqId, message } of replacements) {
        remove(dlqId);
        messages.insertCreated(message);
      }
      return { missing: [] };
    });
  }

  #page(query: ListQuery<DeadLetterFilter>): { rows: DeadLetterRow[]; cursor?: string } {
    const { filter, order, count } = query;
    const conditions: SqlCondition[] = messageFilterSql(filter, {
      id: 'd.message_id',
      date: 'd.failed_at',
      message: 'm',
    });
    if (filter.dlqIds !== undefined) conditions.push(inList('d.dlq_id', filter.dlqIds));
    if (filter.responseStatus !== undefined) {
      conditions.push(inList('d.response_status', filter.responseStatus));
    }
    if (query.cursor !== undefined) {
      conditions.push(afterPosition(decodeCursor(query.cursor), order, 'd.failed_at', 'd.dlq_id'));
    }
    const where = whereAll(conditions);
    const rows = this.#db
      .prepare(`${SELECT} WHERE ${where.sql} ${orderBy(order, 'd.failed_at', 'd.dlq_id')} LIMIT ?`)
      .all(...where.params, count + 1) as DeadLetterRow[];
    return pageOf(rows, count, (row) => ({ time: row.failedAt, key: row.dlqId }));
  }

  async listDeadLetters(query: ListQuery<DeadLetterFilter>): Promise<Page<DeadLetterEntry>> {
    const page = this.#page(query);
    return {
      items: page.rows.map(toEntry),
      ...(page.cursor !== undefined && { cursor: page.cursor }),
    };
  }

  async getDeadLetter(dlqId: string): Promise<DeadLetterEntry | undefined> {
    const row = this.#statements.get.get(dlqId) as DeadLetterRow | undefined;
    return row && toEntry(row);
  }

  async deleteDeadLetters(
    query: ListQuery<DeadLetterFilter>,
  ): Promise<{ deleted: number; cursor?: string }> {
    return this.#delete(query);
  }

  async replaceWithMessages(
    replacements: readonly DeadLetterReplacement[],
    _nowMs: number,
  ): Promise<{ missing: string[] }> {
    // Each message is created at its own createdAt, which the core set to now.
    return this.#replace(replacements);
  }
}

function toEntry(row: DeadLetterRow): DeadLetterEntry {
  const { responseHeader, error } = JSON.parse(row.deadLetterFields) as {
    responseHeader: HeaderMap;
    error?: string;
  };
  return {
    deadLetter: {
      dlqId: row.dlqId,
      messageId: row.messageId,
      failedAt: row.failedAt,
      responseStatus: row.responseStatus,
      responseHeader,
      responseBody: row.responseBody,
      ...(error !== undefined && { error }),
    },
    message: decodeMessage(row.messageFields, row.body),
  };
}
