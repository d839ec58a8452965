import type Database from 'better-sqlite3';
import { decodeMessage } from '../../core/message-codec';
import type { ListQuery, Page } from '../../ports/listing';
import type {
  PendingFilter,
  PendingMessage,
  PendingMessageList,
} from '../../ports/pending-message-list';
import type { SqlCondition } from './sqlite-listing';
import {
  afterPosition,
  decodeCursor,
  messageFilterSql,
  orderBy,
  pageOf,
  whereAll,
} from './sqlite-listing';

type PendingRow = {
  id: string;
  createdAt: number;
  fields: string;
  body: Buffer;
  retried: number;
  dueAt: number;
  leaseUntil: number | null;
};

/**
 * Pending messages in SQLite: the `messages` rows that may still be attempted (a due time, no
 * cancel waiting), paged by (created_at, id). The pending index (by created_at) keeps the scan to
 * the rows not yet finished, though finished ones stay in the table until retention.
 */
export class SqlitePendingMessageList implements PendingMessageList {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async listPendingMessages(query: ListQuery<PendingFilter>): Promise<Page<PendingMessage>> {
    const { filter, order, count } = query;
    const conditions: SqlCondition[] = [
      { sql: 'm.due_at IS NOT NULL AND m.cancel_requested_at IS NULL', params: [] },
      ...messageFilterSql(filter, { id: 'm.id', date: 'm.created_at', message: 'm' }),
    ];
    if (filter.inFlight !== undefined) {
      conditions.push({
        sql: filter.inFlight ? 'm.lease_until IS NOT NULL' : 'm.lease_until IS NULL',
        params: [],
      });
    }
    if (query.cursor !== undefined) {
      conditions.push(afterPosition(decodeCursor(query.cursor), order, 'm.created_at', 'm.id'));
    }
    const where = whereAll(conditions);
    // The page's keys first, from the narrow columns, then its rows: sorting whole rows (bodies
    // included) of a large backlog costs several times more.
    const rows = this.#db
      .prepare(
        `WITH page AS (
           SELECT m.id, m.created_at FROM messages m
           WHERE ${where.sql} ${orderBy(order, 'm.created_at', 'm.id')} LIMIT ?
         )
         SELECT m.id, m.created_at AS createdAt, m.fields, m.body, m.retried, m.due_at AS dueAt,
           m.lease_until AS leaseUntil
         FROM page JOIN messages m ON m.id = page.id
         ${orderBy(order, 'page.created_at', 'page.id')}`,
      )
      .all(...where.params, count + 1) as PendingRow[];
    const page = pageOf(rows, count, (row) => ({ time: row.createdAt, key: row.id }));
    return {
      items: page.rows.map((row) => ({
        message: decodeMessage(row.fields, row.body),
        retried: row.retried,
        dueAt: row.dueAt,
        inFlight: row.leaseUntil !== null,
      })),
      ...(page.cursor !== undefined && { cursor: page.cursor }),
    };
  }
}
