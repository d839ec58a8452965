import type { LogEvent, Message, MessageState } from '../core/message';
import type { ListQuery, MessageFilter, Page } from './listing';

/** The log filters (qstash-api.md §6.3): the message filters plus the states to show. */
export type LogFilter = MessageFilter & { readonly states?: readonly MessageState[] };

/**
 * A log event with the message as it was created, from which `/v2/events` echoes the
 * configuration (headers, body, retries, callbacks...). Events are written lean, on the hot path;
 * the message is joined in at read time, so an attempt never writes its configuration again.
 * `message` is absent only for an event whose message record is gone.
 */
export type LogRecord = { readonly event: LogEvent; readonly message?: Message };

/**
 * The message event log, written by the MessageStore (and the queue store when a queue is
 * deleted) as states change. Ordered by event time, then by the order events were appended.
 */
export type EventLog = {
  listEvents(query: ListQuery<LogFilter>): Promise<Page<LogRecord>>;
};
