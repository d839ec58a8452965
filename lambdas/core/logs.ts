import type { EventLog, LogFilter, LogRecord } from '../ports/event-log';
import type { ListQuery, Page } from '../ports/listing';
import type { MessageState } from './message';

/** Every state a log entry can have, as emitted (qstash-api.md §3.6). */
export const MESSAGE_STATES: readonly MessageState[] = [
  'CREATED',
  'ACTIVE',
  'RETRY',
  'ERROR',
  'DELIVERED',
  'FAILED',
  'CANCEL_REQUESTED',
  'CANCELED',
];

/**
 * The `state` filter's values and the states each selects: every state, plus `IN_PROGRESS`
 * (any of ACTIVE, RETRY, ERROR) and the docs' spelling `CANCELLED` for CANCELED.
 */
const STATE_FILTERS = new Map<string, readonly MessageState[]>([
  ...MESSAGE_STATES.map((state): [string, readonly MessageState[]] => [state, [state]]),
  ['IN_PROGRESS', ['ACTIVE', 'RETRY', 'ERROR']],
  ['CANCELLED', ['CANCELED']],
]);

export const STATE_FILTER_VALUES: readonly string[] = [...STATE_FILTERS.keys()];

/** The states a `state` filter value selects, or undefined when it names no state. */
export function statesForFilter(value: string): readonly MessageState[] | undefined {
  return STATE_FILTERS.get(value.toUpperCase());
}

export type LogDeps = { readonly events: EventLog };

/** `GET /v2/events` and `/v2/logs`: one page of the event log, newest first unless asked. */
export async function listLogs(
  deps: LogDeps,
  query: ListQuery<LogFilter>,
): Promise<Page<LogRecord>> {
  if (query.filter.messageIds?.length === 0 || query.filter.states?.length === 0) {
    return { items: [] };
  }
  return deps.events.listEvents(query);
}
