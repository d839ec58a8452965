import { BadRequestError } from '../../core/errors';
import type { ListOrder, MessageFilter } from '../../ports/listing';

/** A WHERE fragment and its parameters, in order. */
export type SqlCondition = { readonly sql: string; readonly params: unknown[] };

/** Where the columns a message filter matches on are, in the query at hand. */
export type FilterColumns = {
  /** The message id column (`m.id`, `h.message_id`...). */
  readonly id: string;
  /** The time `fromDate`/`toDate` bound. */
  readonly date: string;
  /** Alias of the `messages` row. */
  readonly message: string;
};

const MATCHES_NOTHING = '0';

export function inList(column: string, values: readonly unknown[]): SqlCondition {
  if (values.length === 0) return { sql: MATCHES_NOTHING, params: [] };
  return { sql: `${column} IN (${values.map(() => '?').join(', ')})`, params: [...values] };
}

/**
 * The SQL for a MessageFilter: OR within a filter, AND across filters. Matches against the
 * `messages` row's columns, which keep what the message was created with.
 */
export function messageFilterSql(filter: MessageFilter, columns: FilterColumns): SqlCondition[] {
  const h = columns.message;
  const conditions: SqlCondition[] = [];
  const lists: [readonly unknown[] | undefined, string][] = [
    [filter.messageIds, columns.id],
    [filter.url, `${h}.url`],
    [filter.host, `${h}.host`],
    [filter.path, `${h}.path`],
    [filter.topicName, `${h}.topic_name`],
    [filter.queueName, `${h}.queue_name`],
    [filter.scheduleId, `${h}.schedule_id`],
    [filter.callerIp, `${h}.caller_ip`],
    [filter.flowControlKey, `${h}.flow_key`],
  ];
  for (const [values, column] of lists) {
    if (values !== undefined) conditions.push(inList(column, values));
  }
  if (filter.label !== undefined) {
    const labels = inList('value', filter.label);
    conditions.push({
      sql: `EXISTS (SELECT 1 FROM json_each(${h}.labels) WHERE ${labels.sql})`,
      params: labels.params,
    });
  }
  if (filter.fromDate !== undefined) {
    conditions.push({ sql: `${columns.date} >= ?`, params: [filter.fromDate] });
  }
  if (filter.toDate !== undefined) {
    conditions.push({ sql: `${columns.date} <= ?`, params: [filter.toDate] });
  }
  return conditions;
}

/** Joins conditions with AND; no conditions is TRUE. */
export function whereAll(conditions: readonly SqlCondition[]): SqlCondition {
  if (conditions.length === 0) return { sql: '1', params: [] };
  return {
    sql: conditions.map((condition) => `(${condition.sql})`).join(' AND '),
    params: conditions.flatMap((condition) => condition.params),
  };
}

/** A keyset position: the sort key of the last item of a page. */
export type KeysetPosition = { readonly time: number; readonly key: string | number };

/** Cursors are base64url JSON of `[time, key]`: opaque to clients, stable across restarts. */
export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.time, position.key])).toString('base64url');
}

export function decodeCursor(cursor: string): KeysetPosition {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      Number.isSafeInteger(decoded[0]) &&
      (typeof decoded[1] === 'string' || Number.isSafeInteger(decoded[1]))
    ) {
      return { time: decoded[0] as number, key: decoded[1] as string | number };
    }
  } catch {
    // refused below
  }
  throw new BadRequestError(
    `invalid cursor "${cursor}": pass back the cursor of the previous page unchanged`,
  );
}

/** Items strictly after `position` in `order`, by (time column, key column). */
export function afterPosition(
  position: KeysetPosition,
  order: ListOrder,
  timeColumn: string,
  keyColumn: string,
): SqlCondition {
  const comparison = order === 'latestFirst' ? '<' : '>';
  return {
    sql: `(${timeColumn}, ${keyColumn}) ${comparison} (?, ?)`,
    params: [position.time, position.key],
  };
}

export function orderBy(order: ListOrder, timeColumn: string, keyColumn: string): string {
  const direction = order === 'latestFirst' ? 'DESC' : 'ASC';
  return `ORDER BY ${timeColumn} ${direction}, ${keyColumn} ${direction}`;
}

/**
 * Runs a keyset page query that asked for `count + 1` rows: the extra row only says whether
 * another page follows, and the cursor is the position of the last row kept.
 */
export function pageOf<Row>(
  rows: Row[],
  count: number,
  position: (row: Row) => KeysetPosition,
): { rows: Row[]; cursor?: string } {
  if (rows.length <= count) return { rows };
  const kept = rows.slice(0, count);
  return { rows: kept, cursor: encodeCursor(position(kept[kept.length - 1]!)) };
}
