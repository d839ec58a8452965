import type Database from 'better-sqlite3';
import type { LogEvent, MessageState } from '../../core/message';
import { decodeMessage } from '../../core/message-codec';
import type { EventLog, LogFilter, LogRecord } from '../../ports/event-log';
import type { ListQuery, Page } from '../../ports/listing';
import type { KeysetPosition, SqlCondition } from './sqlite-listing';
import {
  afterPosition,
  decodeCursor,
  inList,
  messageFilterSql,
  orderBy,
  pageOf,
  whereAll,
} from './sqlite-listing';

type EventRow = {
  seq: number;
  time: number;
  messageId: string;
  state: MessageState;
  eventFields: string;
  messageFields: string | null;
  body: Buffer | null;
};

const DIGITS = /^\d+$/;

/**
 * The event log in SQLite: the `events` rows the stores append, each joined at read time with
 * its message's `message_history` row for the configuration echoes and the filters.
 */
export class SqliteEventLog implements EventLog {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async listEvents(query: ListQuery<LogFilter>): Promise<Page<LogRecord>> {
    const { filter, order, count } = query;
    const conditions: SqlCondition[] = messageFilterSql(filter, {
      id: 'e.message_id',
      date: 'e.time',
      history: 'h',
    });
    if (filter.states !== undefined) conditions.push(inList('e.state', filter.states));
    if (query.cursor !== undefined) {
      conditions.push(afterPosition(readCursor(query.cursor, order), order, 'e.time', 'e.seq'));
    }
    const where = whereAll(conditions);
    const rows = this.#db
      .prepare(
        `SELECT e.seq, e.time, e.message_id AS messageId, e.state, e.fields AS eventFields,
           h.fields AS messageFields, h.body
         FROM events e LEFT JOIN message_history h ON h.message_id = e.message_id
         WHERE ${where.sql} ${orderBy(order, 'e.time', 'e.seq')} LIMIT ?`,
      )
      .all(...where.params, count + 1) as EventRow[];
    const page = pageOf(rows, count, (row) => ({ time: row.time, key: row.seq }));
    return {
      items: page.rows.map(toRecord),
      ...(page.cursor !== undefined && { cursor: page.cursor }),
    };
  }
}

/**
 * Reads a page cursor. A bare number is also accepted, as a time in ms to start from (inclusive),
 * since the JS SDK documents starting its paging loop with `cursor: Date.now()`.
 */
function readCursor(cursor: string, order: ListQuery['order']): KeysetPosition {
  if (!DIGITS.test(cursor)) return decodeCursor(cursor);
  const time = Number(cursor);
  // seq starts at 1, so these keys put every event of that millisecond after the position.
  return { time, key: order === 'latestFirst' ? Number.MAX_SAFE_INTEGER : 0 };
}

function toRecord(row: EventRow): LogRecord {
  const event = {
    ...(JSON.parse(row.eventFields) as Omit<LogEvent, 'time' | 'messageId' | 'state'>),
    time: row.time,
    messageId: row.messageId,
    state: row.state,
  } as LogEvent;
  return row.messageFields === null || row.body === null
    ? { event }
    : { event, message: decodeMessage(row.messageFields, row.body) };
}
