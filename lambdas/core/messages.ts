import type { Clock } from '../ports/clock';
import type { MessageFilter } from '../ports/listing';
import type { AttemptSettlement, MessageStore } from '../ports/message-store';
import { NotFoundError } from './errors';
import type { LogEvent, Message } from './message';

export type MessageDeps = { readonly store: MessageStore; readonly clock: Clock };

function messageNotFound(messageId: string): NotFoundError {
  return new NotFoundError(
    `message "${messageId}" not found: it does not exist, or was already delivered, failed or canceled`,
  );
}

/** `GET /v2/messages/{id}`: a message that may still be attempted; 404 once it is done. */
export async function getPendingMessage(deps: MessageDeps, messageId: string): Promise<Message> {
  const message = await deps.store.getPendingMessage(messageId);
  if (!message) throw messageNotFound(messageId);
  return message;
}

/** `DELETE /v2/messages/{id}`: cancels one pending message; 404 when there is none to cancel. */
export async function cancelMessage(deps: MessageDeps, messageId: string): Promise<number> {
  const cancelled = await deps.store.cancelMessages({ messageIds: [messageId] }, deps.clock.now());
  if (cancelled === 0) throw messageNotFound(messageId);
  return cancelled;
}

/**
 * `DELETE /v2/messages`: cancels the pending messages a filter selects. `messageIds`, when given,
 * selects on its own: the other filters are ignored (qstash-api.md §6.1). An empty filter
 * selects every pending message, as QStash does; an empty `messageIds` list selects none.
 * `count` caps how many are canceled, the earliest created first; without it, all are.
 */
export async function cancelMessages(
  deps: MessageDeps,
  filter: MessageFilter,
  count?: number,
): Promise<number> {
  const selection = filter.messageIds ? { messageIds: filter.messageIds } : filter;
  if (selection.messageIds?.length === 0) return 0;
  return deps.store.cancelMessages(selection, deps.clock.now(), count);
}

/** The message a log event is about: its id and destination. */
type EventSubject = { readonly messageId: string; readonly url: string };

/**
 * The events a cancel appends: CANCEL_REQUESTED, then CANCELED right away for a message waiting
 * for its attempt. One whose attempt is in flight ends CANCELED when the attempt settles.
 */
export function cancelEvents(subject: EventSubject, nowMs: number, inFlight: boolean): LogEvent[] {
  const requested: LogEvent = {
    time: nowMs,
    messageId: subject.messageId,
    url: subject.url,
    state: 'CANCEL_REQUESTED',
  };
  return inFlight ? [requested] : [requested, canceledEvent(subject, nowMs)];
}

/** The event that ends a canceled message. */
export function canceledEvent(subject: EventSubject, timeMs: number): LogEvent {
  return { time: timeMs, messageId: subject.messageId, url: subject.url, state: 'CANCELED' };
}

/**
 * What an attempt's settlement becomes when its message was canceled while the attempt ran.
 * A delivered attempt stays delivered: the destination has the message, and a cancel cannot take
 * that back. Otherwise the message ends CANCELED: no retry is scheduled, no dead letter is
 * written and no failure callback fires (it did not fail; it was canceled). The callback of an
 * attempt that got a response still fires, since it reports something that did happen.
 */
export function canceledSettlement(settlement: AttemptSettlement): AttemptSettlement {
  const { outcome, message } = settlement;
  if (outcome.kind === 'delivered' || outcome.kind === 'canceled') return settlement;
  const events = settlement.events.filter(
    (event) => event.state !== 'RETRY' && event.state !== 'FAILED',
  );
  const time = settlement.events.reduce((latest, event) => Math.max(latest, event.time), 0);
  events.push(canceledEvent(message, time));
  return {
    ...settlement,
    outcome: { kind: 'canceled' },
    events,
    callbacks: settlement.callbacks.filter(
      (callback) => callback.callbackFor?.kind !== 'failure-callback',
    ),
  };
}

/**
 * The `host` and `path` a message filter matches a destination on: the URL's host (with its
 * port when the URL gives one) and its path without the query.
 */
export function destinationHostAndPath(url: string): { host: string; path: string } {
  try {
    const parsed = new URL(url);
    return { host: parsed.host, path: parsed.pathname };
  } catch {
    return { host: '', path: '' };
  }
}

/**
 * Whether `message` passes `filter`'s message filters (OR within one, AND across them;
 * qstash-api.md §6.1), for a store that filters in code. `fromDate`/`toDate` bound whichever
 * time the list is ordered by, so the caller applies them.
 */
export function matchesMessageFilter(message: Message, filter: MessageFilter): boolean {
  const { host, path } = destinationHostAndPath(message.url);
  const fields: [readonly string[] | undefined, string | undefined][] = [
    [filter.messageIds, message.messageId],
    [filter.url, message.url],
    [filter.host, host],
    [filter.path, path],
    [filter.topicName, message.topicName],
    [filter.queueName, message.queueName],
    [filter.scheduleId, message.scheduleId],
    [filter.callerIp, message.callerIp],
    [filter.flowControlKey, message.flowControl?.key],
  ];
  for (const [values, value] of fields) {
    if (values !== undefined && (value === undefined || !values.includes(value))) return false;
  }
  return filter.label === undefined || filter.label.some((label) => message.labels.includes(label));
}
