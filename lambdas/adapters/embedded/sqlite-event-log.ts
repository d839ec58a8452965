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
  time: number;
  key: number;
  messageId: string;
  state: MessageState;
  url: string;
  eventFields: string | null;
  messageFields: string;
  body: Buffer;
};

const DIGITS = /^\d+$/;
/**
 * The log's sort key after the time: a CREATED entry's is its message's seq, an event's is its
 * seq plus this offset, so that within one millisecond a message's creation comes before what
 * happened to it, and no two entries share a key. Seqs stay far below it (2^52 rows).
 */
const EVENT_KEY_OFFSET = 2 ** 52;

/**
 * The event log in SQLite. A message's CREATED entry is its `messages` row; every later state
 * change is an `events` row the stores append. Both are joined with the message row for the
 * configuration echoes and the filters, and merged in (time, key) order.
 */
export class SqliteEventLog implements EventLog {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async listEvents(query: ListQuery<LogFilter>): Promise<Page<LogRecord>> {
    const { filter, order, count } = query;
    const position = query.cursor === undefined ? undefined : readCursor(query.cursor, order);
    const messageConditions = (date: string) =>
      messageFilterSql(filter, { id: 'm.id', date, message: 'm' });
    const arms: { sql: string; params: unknown[] }[] = [];
    if (filter.states === undefined || filter.states.includes('CREATED')) {
      const conditions: SqlCondition[] = messageConditions('m.created_at');
      if (position) conditions.push(afterPosition(position, order, 'm.created_at', 'm.seq'));
      const where = whereAll(conditions);
      arms.push({
        sql: `SELECT m.created_at AS time, m.seq AS key, m.id AS messageId, 'CREATED' AS state,
            m.url, NULL AS eventFields, m.fields AS messageFields, m.body
          FROM messages m WHERE ${where.sql}`,
        params: where.params,
      });
    }
    const eventStates = filter.states?.filter((state) => state !== 'CREATED');
    if (eventStates === undefined || eventStates.length > 0) {
      const conditions: SqlCondition[] = messageConditions('e.time');
      if (eventStates !== undefined) conditions.push(inList('e.state', eventStates));
      if (position) {
        const eventPosition = { time: position.time, key: Number(position.key) - EVENT_KEY_OFFSET };
        conditions.push(afterPosition(eventPosition, order, 'e.time', 'e.seq'));
      }
      const where = whereAll(conditions);
      arms.push({
        sql: `SELECT e.time, e.seq + ${EVENT_KEY_OFFSET} AS key, e.message_id AS messageId, e.state,
            m.url, e.fields AS eventFields, m.fields AS messageFields, m.body
          FROM events e JOIN messages m ON m.id = e.message_id WHERE ${where.sql}`,
        params: where.params,
      });
    }
    if (arms.length === 0) return { items: [] };
    const rows = this.#db
      .prepare(
        `${arms.map((arm) => arm.sql).join(' UNION ALL ')} ${orderBy(order, 'time', 'key')} LIMIT ?`,
      )
      .all(...arms.flatMap((arm) => arm.params), count + 1) as EventRow[];
    const page = pageOf(rows, count, (row) => ({ time: row.time, key: row.key }));
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
  // Every key is above 0 and below MAX_SAFE_INTEGER, so these put every entry of that
  // millisecond after the position.
  return { time, key: order === 'latestFirst' ? Number.MAX_SAFE_INTEGER : 0 };
}

function toRecord(row: EventRow): LogRecord {
  const fields = row.eventFields === null ? {} : JSON.parse(row.eventFields);
  const event = {
    ...(fields as Omit<LogEvent, 'time' | 'messageId' | 'state' | 'url'>),
    time: row.time,
    messageId: row.messageId,
    state: row.state,
    url: row.url,
  } as LogEvent;
  return { event, message: decodeMessage(row.messageFields, row.body) };
}
