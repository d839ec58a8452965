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
 * cancel waiting), the filters matched on their `message_history` rows, paged by (created_at, id).
 * No index serves this order (one would cost every publish a write); the scan covers only the
 * rows not yet finished, since delivered and canceled messages leave the table.
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
      ...messageFilterSql(filter, { id: 'm.id', date: 'm.created_at', history: 'h' }),
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
    // included) of a large backlog costs several times more. The history is joined only when a
    // filter matches on it.
    const { messageIds: _ids, fromDate: _from, toDate: _to, inFlight: _inFlight, ...rest } = filter;
    const history = Object.values(rest).some((value) => value !== undefined)
      ? 'JOIN message_history h ON h.message_id = m.id'
      : '';
    const rows = this.#db
      .prepare(
        `WITH page AS (
           SELECT m.id, m.created_at FROM messages m ${history}
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
