import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { EventLog, LogRecord } from '../ports/event-log';
import type { ListQuery, MessageFilter, Page } from '../ports/listing';
import type { PendingMessageList } from '../ports/pending-message-list';
import { NotFoundError } from './errors';
import type { DeadLetter, LogEvent, Message, MessageState } from './message';

/**
 * What the console shows of messages: one row per message with its current state, whatever that
 * state is, and one message's whole story (its events, its dead letter, its callbacks). Built on
 * the read ports only, so both runtimes answer the same.
 */

/** Where a message stands, as the console filters on it. */
export const MESSAGE_STATUSES = ['pending', 'inFlight', 'delivered', 'failed', 'canceled'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** The filters of the overview: the message filters, and the status to show (any when absent). */
export type OverviewFilter = MessageFilter & { readonly status?: MessageStatus };

/** One message as it stands: its latest event, and the latest that carried an outcome. */
export type MessageSummary = {
  readonly messageId: string;
  /** Absent only when the message's record is gone (its events outlived it). */
  readonly message?: Message;
  readonly latest: LogEvent;
  /** The latest DELIVERED or ERROR event: what the last attempt got. */
  readonly lastOutcome?: LogEvent;
  /**
   * An attempt holds it now. The log records an attempt (ACTIVE) when it settles, so this comes
   * from the pending list, not from `latest`.
   */
  readonly inFlight: boolean;
};

export type MessageStory = {
  readonly messageId: string;
  readonly message?: Message;
  /** Every event, earliest first. */
  readonly events: readonly LogEvent[];
  /** An attempt holds it now (see MessageSummary). */
  readonly inFlight: boolean;
  /** Its entry in the DLQ, while it is there. */
  readonly deadLetter?: DeadLetter;
  /** The callback and failure-callback messages its attempts created, as they stand. */
  readonly callbacks: readonly MessageSummary[];
};

export type OverviewDeps = {
  readonly events: EventLog;
  readonly pendingMessages: PendingMessageList;
  readonly deadLetters: DeadLetterStore;
};

/** States after which a message is never attempted again. */
const FINAL_STATES: ReadonlySet<MessageState> = new Set(['DELIVERED', 'FAILED', 'CANCELED']);
const TERMINAL: Partial<Record<MessageStatus, MessageState>> = {
  delivered: 'DELIVERED',
  failed: 'FAILED',
  canceled: 'CANCELED',
};
/** Events read per call when gathering the events of a page of messages. */
const EVENT_BATCH = 1_000;
/** Enough batches for every event of a page of messages with the most retries allowed. */
const MAX_EVENT_BATCHES = 10;

/**
 * One page of messages, newest first unless asked: all of them (by creation), the pending or
 * in-flight ones (by creation; from the pending list), or those that ended delivered, failed or
 * canceled (by the time they ended; one such event per message). `fromDate`/`toDate` bound the
 * time the list is ordered by. Each row then gets its latest events in one more read.
 */
export async function listMessageSummaries(
  deps: OverviewDeps,
  query: ListQuery<OverviewFilter>,
): Promise<Page<MessageSummary>> {
  const { status, ...filter } = query.filter;
  const base = { filter, count: query.count, order: query.order, cursor: query.cursor };
  let page: Page<{ messageId: string; message?: Message }>;
  let inFlight: ReadonlySet<string> | undefined;
  if (status === 'pending' || status === 'inFlight') {
    const pending = await deps.pendingMessages.listPendingMessages({
      ...base,
      filter: { ...filter, inFlight: status === 'inFlight' },
    });
    inFlight = new Set(
      status === 'inFlight' ? pending.items.map((item) => item.message.messageId) : [],
    );
    page = {
      items: pending.items.map(({ message }) => ({ messageId: message.messageId, message })),
      ...(pending.cursor !== undefined && { cursor: pending.cursor }),
    };
  } else {
    const state = status === undefined ? 'CREATED' : TERMINAL[status]!;
    const events = await deps.events.listEvents({
      ...base,
      filter: { ...filter, states: [state] },
    });
    page = {
      items: events.items.map(({ event, message }) => ({ messageId: event.messageId, message })),
      ...(events.cursor !== undefined && { cursor: events.cursor }),
    };
  }
  const summaries = await summarize(deps, page.items, inFlight);
  return { items: summaries, ...(page.cursor !== undefined && { cursor: page.cursor }) };
}

/**
 * Rows for these messages: their latest events (skipping one without any: the listing and the
 * lookup read the same log), and which are in flight, asked of the pending list for those not
 * yet final unless `inFlight` already says.
 */
async function summarize(
  deps: OverviewDeps,
  items: readonly { messageId: string; message?: Message }[],
  inFlight?: ReadonlySet<string>,
): Promise<MessageSummary[]> {
  const latest = await latestEvents(
    deps,
    items.map((item) => item.messageId),
  );
  const open = items
    .map((item) => item.messageId)
    .filter((messageId) => {
      const state = latest.get(messageId)?.latest.state;
      return state !== undefined && !FINAL_STATES.has(state);
    });
  const held =
    inFlight ??
    new Set(
      open.length === 0
        ? []
        : (
            await deps.pendingMessages.listPendingMessages({
              filter: { messageIds: open, inFlight: true },
              count: open.length,
              order: 'earliestFirst',
            })
          ).items.map((item) => item.message.messageId),
    );
  const summaries: MessageSummary[] = [];
  for (const { messageId, message } of items) {
    const found = latest.get(messageId);
    if (found) {
      summaries.push({
        messageId,
        ...(message && { message }),
        ...found,
        inFlight: held.has(messageId),
      });
    }
  }
  return summaries;
}

/** A message's events, dead letter and callbacks; 404 when the log knows no such message. */
export async function getMessageStory(
  deps: OverviewDeps,
  messageId: string,
): Promise<MessageStory> {
  const records = await eventsOf(deps, [messageId], 'earliestFirst');
  if (records.length === 0) {
    throw new NotFoundError(`message "${messageId}" not found in the log`);
  }
  const message = records.find((record) => record.message)?.message;
  const events = records.map((record) => record.event);
  const deadLetter = events.some((event) => event.state === 'FAILED')
    ? (
        await deps.deadLetters.listDeadLetters({
          filter: { messageIds: [messageId] },
          count: 1,
          order: 'latestFirst',
        })
      ).items[0]?.deadLetter
    : undefined;
  const last = events[events.length - 1]!;
  const inFlight =
    !FINAL_STATES.has(last.state) &&
    (
      await deps.pendingMessages.listPendingMessages({
        filter: { messageIds: [messageId], inFlight: true },
        count: 1,
        order: 'earliestFirst',
      })
    ).items.length > 0;
  return {
    messageId,
    ...(message && { message }),
    events,
    inFlight,
    ...(deadLetter && { deadLetter }),
    callbacks: message ? await callbacksOf(deps, message, events) : [],
  };
}

/**
 * The callback messages of `source`. A callback is created by the settlement of the attempt it
 * reports, at that settlement's time (core/delivery.ts), so the CREATED events to its URLs at the
 * times of the source's DELIVERED, ERROR and FAILED events hold them; `callbackFor` tells them
 * from other messages' callbacks created in the same millisecond.
 */
async function callbacksOf(
  deps: OverviewDeps,
  source: Message,
  events: readonly LogEvent[],
): Promise<MessageSummary[]> {
  const urls = [source.callback?.url, source.failureCallback?.url].filter(
    (url): url is string => url !== undefined,
  );
  if (urls.length === 0) return [];
  const times = [
    ...new Set(
      events
        .filter((event) => ['DELIVERED', 'ERROR', 'FAILED'].includes(event.state))
        .map((event) => event.time),
    ),
  ];
  const found = new Map<string, Message>();
  for (const time of times) {
    const created = await deps.events.listEvents({
      filter: { url: [...new Set(urls)], states: ['CREATED'], fromDate: time, toDate: time },
      count: EVENT_BATCH,
      order: 'earliestFirst',
    });
    for (const { message } of created.items) {
      if (message?.callbackFor?.sourceMessageId === source.messageId) {
        found.set(message.messageId, message);
      }
    }
  }
  return summarize(
    deps,
    [...found.values()].map((message) => ({ messageId: message.messageId, message })),
  );
}

/** Each message's latest event and latest outcome, from its events newest first. */
async function latestEvents(
  deps: OverviewDeps,
  messageIds: readonly string[],
): Promise<Map<string, Pick<MessageSummary, 'latest' | 'lastOutcome'>>> {
  const found = new Map<string, { latest: LogEvent; lastOutcome?: LogEvent }>();
  for (const { event } of await eventsOf(deps, messageIds, 'latestFirst')) {
    const entry = found.get(event.messageId);
    const outcome = event.state === 'DELIVERED' || event.state === 'ERROR';
    if (!entry) {
      found.set(event.messageId, { latest: event, ...(outcome && { lastOutcome: event }) });
    } else if (outcome && !entry.lastOutcome) {
      entry.lastOutcome = event;
    }
  }
  return found;
}

/** Every event of these messages, in `order`, read in bounded batches. */
async function eventsOf(
  deps: OverviewDeps,
  messageIds: readonly string[],
  order: ListQuery['order'],
): Promise<LogRecord[]> {
  if (messageIds.length === 0) return [];
  const records: LogRecord[] = [];
  let cursor: string | undefined;
  for (let batch = 0; batch < MAX_EVENT_BATCHES; batch += 1) {
    const page = await deps.events.listEvents({
      filter: { messageIds: [...messageIds] },
      count: EVENT_BATCH,
      order,
      cursor,
    });
    records.push(...page.items);
    cursor = page.cursor;
    if (cursor === undefined) break;
  }
  return records;
}
