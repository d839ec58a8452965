/**
 * A message's partition, `MSG#<messageId>`: everything DynamoDB keeps about one message, read
 * with one strongly consistent Query (its history).
 *
 * | item | sk | written | holds |
 * |---|---|---|---|
 * | record | `MSG` | at publish, only for a message SQS cannot carry alone (delayed past 15 minutes, in a FIFO queue, too large for an entry, or every message with `sqstash:visibility=immediate`) | the whole message, its FIFO place, its CREATED event |
 * | outcome of attempt n | `LOG#<n>` | once per attempt, by its settlement; or first by a cancel | the attempt's events, the message's configuration (its body too when a retry follows), what follows (retry time, dead letter, callbacks kept) |
 *
 * The outcome item is the commit point of a settlement: it is written with
 * `attribute_not_exists(sk)`, so of two settlements of one attempt (an SQS entry received
 * twice) exactly one is applied, and the other, stale, changes nothing. A cancel that may race
 * an attempt writes the same item first, as a mark (`cancel-requested`); the settlement then
 * finds the mark and completes it as the cancel says (core/messages.ts `canceledSettlement`).
 *
 * Events are kept in groups, one per write, each with the time it was recorded (`at`), the
 * writer token and index of its entry in the event index (event-index.ts): what orders the log.
 * Events omit the message id and URL, which the item's configuration holds.
 *
 * A message that SQS carries alone has no item here until its first outcome: that item holds
 * its CREATED event too.
 */
import type { LogEvent, Message } from '../../core/message';
import type { Item } from './dynamo-calls';
import { ConditionFailedError, type DynamoCalls, mapLimit, PARALLEL_CALLS } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import {
  ITEM_PAYLOAD_BYTES,
  joinPayload,
  newPartsTag,
  SMALL_INLINE_BYTES,
  splitPayload,
} from './dynamo-payloads';
import { TABLE } from './table';

const PK = TABLE.partitionKey;
const SK = TABLE.sortKey;
const RECORD_SK = 'MSG';
const LOG_PREFIX = 'LOG#';
const ATTEMPT_DIGITS = 4;
/** A record's data kept in the item before it spills into parts (records are written once). */
const RECORD_INLINE_DATA_BYTES = 64_000;
const ITEM_SK = /^(MSG|LOG#\d{4})$/;

/** The key of a partition item. */
export type PartitionKey = { readonly pk: string; readonly sk: string };

export const partitionKeys = {
  partition: (messageId: string) => `MSG#${messageId}`,
  record: (messageId: string): PartitionKey => ({ pk: `MSG#${messageId}`, sk: RECORD_SK }),
  log: (messageId: string, retried: number): PartitionKey => ({
    pk: `MSG#${messageId}`,
    sk: `${LOG_PREFIX}${String(retried).padStart(ATTEMPT_DIGITS, '0')}`,
  }),
  wake: (messageId: string, retried: number): PartitionKey => ({
    pk: `MSG#${messageId}`,
    sk: `WAKE#${String(retried).padStart(ATTEMPT_DIGITS, '0')}`,
  }),
};

/** Events written together, and where their entry in the event index is. */
export type EventGroup = {
  /** When they were recorded, ms. */
  readonly at: number;
  /** The writer token of their event-index item. */
  readonly w: string;
  /** Their entry's index in that item. */
  readonly i: number;
  readonly events: readonly LogEvent[];
};

/** What an outcome item says of its attempt. */
export type Outcome = 'delivered' | 'retry' | 'failed' | 'canceled' | 'cancel-requested';

/** A message as recorded at publish. */
export type MessageRecord = {
  readonly message: Message;
  readonly fifo?: { readonly queue: string; readonly seq: number };
  readonly groups: readonly EventGroup[];
  /** The publish of several messages it is part of: it counts once that publish committed. */
  readonly publish?: string;
};

/** The outcome item of one attempt. */
export type AttemptLog = {
  readonly retried: number;
  readonly outcome: Outcome;
  /** The lease token of the settlement that wrote it; absent on a cancel mark alone. */
  readonly token?: string;
  /** The message: its body only when a retry follows (and messages.get may show it). */
  readonly message: Message;
  readonly hasBody: boolean;
  readonly retryAt?: number;
  readonly dlqId?: string;
  /** The callbacks the applied settlement kept. */
  readonly callbacks: readonly string[];
  readonly groups: readonly EventGroup[];
};

/** Everything about one message, as one consistent read found it. */
export type MessageHistory = {
  readonly messageId: string;
  readonly record?: MessageRecord;
  /** By attempt number. */
  readonly logs: ReadonlyMap<number, AttemptLog>;
};

const FINAL: ReadonlySet<Outcome> = new Set(['delivered', 'failed', 'canceled']);

/** The outcome that ended the message, if one did. */
export function finalLog(history: MessageHistory): AttemptLog | undefined {
  for (const log of history.logs.values()) if (FINAL.has(log.outcome)) return log;
  return undefined;
}

/** The latest attempt's outcome item. */
export function latestLog(history: MessageHistory): AttemptLog | undefined {
  let latest: AttemptLog | undefined;
  for (const log of history.logs.values())
    if (!latest || log.retried > latest.retried) latest = log;
  return latest;
}

/** What the history says about the message's next attempt. */
export type NextAttempt =
  /** It ended (delivered, failed, canceled) or a cancel awaits its attempt. */
  | { readonly kind: 'done' }
  | { readonly kind: 'cancel-requested'; readonly retried: number }
  /** Attempt `retried` is next, due at `dueAt`, with the message as known. */
  | {
      readonly kind: 'pending';
      readonly retried: number;
      readonly dueAt: number;
      readonly message: Message;
      /** The settlement whose retry it is (for the retry's entry). */
      readonly sentBy?: string;
    }
  /** Nothing recorded: a message SQS carries alone before its first outcome, or no message. */
  | { readonly kind: 'unknown' };

export function nextAttempt(history: MessageHistory | undefined): NextAttempt {
  if (!history) return { kind: 'unknown' };
  if (finalLog(history)) return { kind: 'done' };
  const latest = latestLog(history);
  if (latest?.outcome === 'cancel-requested') {
    return { kind: 'cancel-requested', retried: latest.retried };
  }
  if (latest?.outcome === 'retry' && latest.retryAt !== undefined) {
    return {
      kind: 'pending',
      retried: latest.retried + 1,
      dueAt: latest.retryAt,
      message: latest.message,
      ...(latest.token !== undefined && { sentBy: latest.token }),
    };
  }
  if (history.record) {
    return {
      kind: 'pending',
      retried: 0,
      dueAt: history.record.message.notBefore,
      message: history.record.message,
    };
  }
  return { kind: 'unknown' };
}

/** The message's events, each with the group it was written in, in the order written. */
export function eventGroupsOf(history: MessageHistory): { item: string; group: EventGroup }[] {
  const groups: { item: string; group: EventGroup }[] = [];
  if (history.record) {
    for (const group of history.record.groups) groups.push({ item: RECORD_SK, group });
  }
  for (const log of [...history.logs.values()].sort((a, b) => a.retried - b.retried)) {
    const sk = partitionKeys.log(history.messageId, log.retried).sk;
    for (const group of log.groups) groups.push({ item: sk, group });
  }
  return groups;
}

/** Reads one message's history with one consistent Query; undefined when it has no item. */
export async function readHistory(
  calls: DynamoCalls,
  messageId: string,
): Promise<MessageHistory | undefined> {
  const builder = new ExpressionBuilder();
  const items = await calls.queryAll({
    KeyConditionExpression: `${builder.name(PK)} = ${builder.value(partitionKeys.partition(messageId))}`,
    ...builder.parts(),
    ConsistentRead: true,
  });
  return historyOf(messageId, items);
}

/** The histories of several messages, read side by side; those with no item are left out. */
export async function readHistories(
  calls: DynamoCalls,
  messageIds: readonly string[],
): Promise<Map<string, MessageHistory>> {
  const histories = new Map<string, MessageHistory>();
  await mapLimit([...new Set(messageIds)], PARALLEL_CALLS, async (messageId) => {
    const history = await readHistory(calls, messageId);
    if (history) histories.set(messageId, history);
  });
  return histories;
}

/** The history in a partition's items (parts included); undefined when there are none. */
export function historyOf(messageId: string, items: readonly Item[]): MessageHistory | undefined {
  const own = items.filter((item) => ITEM_SK.test(item[SK] as string));
  if (own.length === 0) return undefined;
  let record: MessageRecord | undefined;
  const logs = new Map<number, AttemptLog>();
  for (const item of own) {
    const sk = item[SK] as string;
    if (sk === RECORD_SK) record = decodeRecord(item, items);
    else if (sk.startsWith(LOG_PREFIX)) {
      const log = decodeLog(item, items);
      logs.set(log.retried, log);
    }
  }
  return { messageId, ...(record && { record }), logs };
}

/** The items recording `message` at publish (parts first, the record last). */
export function recordItems(
  message: Message,
  options: {
    readonly group: EventGroup;
    readonly ttl: number;
    readonly fifo?: { readonly queue: string; readonly seq: number };
    /** The publish of several messages it is part of (MessageRecord.publish). */
    readonly publish?: string;
  },
): Item[] {
  const key = partitionKeys.record(message.messageId);
  const { body, ...fields } = message;
  return itemWithPayloads(key, options.ttl, RECORD_INLINE_DATA_BYTES, ITEM_PAYLOAD_BYTES, body, {
    f: fields,
    g: [options.group].map(encodeGroup),
    ...(options.fifo && { q: options.fifo.queue, s: options.fifo.seq }),
    ...(options.publish !== undefined && { p: options.publish }),
  });
}

/** What an outcome item is written with (see AttemptLog). */
export type AttemptLogInput = Omit<AttemptLog, 'hasBody'> & { readonly ttl: number };

/** The items of an outcome item (parts first), ready to put. */
export function logItems(log: AttemptLogInput): Item[] {
  const key = partitionKeys.log(log.message.messageId, log.retried);
  const { body, ...fields } = log.message;
  const keepBody = log.outcome === 'retry';
  // Outcome items are raced for and may go into a transaction: they stay small.
  return itemWithPayloads(
    key,
    log.ttl,
    SMALL_INLINE_BYTES,
    SMALL_INLINE_BYTES,
    keepBody ? body : undefined,
    {
      f: fields,
      g: log.groups.map(encodeGroup),
      ...(log.token !== undefined && { t: log.token }),
      ...(log.retryAt !== undefined && { ra: log.retryAt }),
      ...(log.dlqId !== undefined && { dlq: log.dlqId }),
      ...(log.callbacks.length > 0 && { cb: log.callbacks }),
    },
    { outcome: log.outcome, ...(log.token !== undefined && { token: log.token }) },
  );
}

/**
 * Marks that a wake sent the attempt entry of attempt `retried` of a waiting message (a
 * recorded one, or a retry woken after more than 15 minutes), so a duplicate wake sends
 * nothing and the same wake (`by`, its SQS message id), received again after a crash, sends
 * again. The mark is a small item of its own, `WAKE#<n>`, so it costs one write unit however
 * large the message's record is. Resolves whether `by` holds the mark.
 */
export async function markReleased(
  calls: DynamoCalls,
  messageId: string,
  retried: number,
  by: string,
  ttl: number,
): Promise<boolean> {
  const builder = new ExpressionBuilder();
  try {
    await calls.put(
      {
        ...partitionKeys.wake(messageId, retried),
        by,
        [TABLE.ttlAttribute]: ttl,
      },
      {
        ConditionExpression: `attribute_not_exists(${builder.name(PK)}) OR ${builder.name('by')} = ${builder.value(by)}`,
        ...builder.parts(),
      },
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
}

function itemWithPayloads(
  key: PartitionKey,
  ttl: number,
  dataInlineBytes: number,
  bodyInlineBytes: number,
  body: Uint8Array | undefined,
  data: Record<string, unknown>,
  attributes: Record<string, unknown> = {},
): Item[] {
  const encoded = Buffer.from(JSON.stringify(data), 'utf8');
  const tag = newPartsTag();
  const dataSplit = splitPayload(key, 'D', encoded, dataInlineBytes, { ttl, tag });
  const room = Math.min(ITEM_PAYLOAD_BYTES - dataSplit.inline.byteLength, bodyInlineBytes);
  const bodySplit = body && splitPayload(key, 'B', body, room, { ttl, tag });
  const hasParts = dataSplit.parts.length > 0 || (bodySplit?.parts.length ?? 0) > 0;
  const item: Item = {
    [PK]: key.pk,
    [SK]: key.sk,
    ...attributes,
    ...(hasParts && { partsTag: tag }),
    data: Buffer.from(dataSplit.inline).toString('utf8'),
    ...(dataSplit.parts.length > 0 && { dataParts: dataSplit.parts.length }),
    // An empty binary attribute is left out rather than stored.
    ...(bodySplit && { hasBody: true }),
    ...(bodySplit && bodySplit.inline.byteLength > 0 && { body: bodySplit.inline }),
    ...(bodySplit && bodySplit.parts.length > 0 && { bodyParts: bodySplit.parts.length }),
    [TABLE.ttlAttribute]: ttl,
  };
  return [...dataSplit.parts, ...(bodySplit?.parts ?? []), item];
}

type StoredGroup = { at: number; w: string; i: number; e: StoredEvent[] };
type StoredEvent = Omit<LogEvent, 'messageId' | 'url'> & { url?: string };

function encodeGroup(group: EventGroup): StoredGroup {
  return {
    at: group.at,
    w: group.w,
    i: group.i,
    e: group.events.map(({ messageId: _id, url: _url, ...rest }) => rest),
  };
}

function decodeGroups(stored: readonly StoredGroup[], message: Message): EventGroup[] {
  return stored.map((group) => ({
    at: group.at,
    w: group.w,
    i: group.i,
    events: group.e.map((event) => ({
      ...event,
      messageId: message.messageId,
      url: event.url ?? message.url,
    })),
  }));
}

/** The data object and body of an item, parts joined. */
function payloadsOf(
  item: Item,
  items: readonly Item[],
): { data: Record<string, unknown>; body?: Uint8Array } {
  const inline = Buffer.from((item.data as string | undefined) ?? '', 'utf8');
  const data = item.dataParts ? joinPayload(inline, item, 'D', items) : inline;
  const body = item.hasBody
    ? joinPayload(item.body as Uint8Array | undefined, item, 'B', items)
    : undefined;
  return {
    data: JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>,
    ...(body && { body }),
  };
}

function decodeRecord(item: Item, items: readonly Item[]): MessageRecord {
  const { data, body } = payloadsOf(item, items);
  const message = { ...(data.f as Omit<Message, 'body'>), body: body ?? new Uint8Array() };
  return {
    message,
    ...(typeof data.q === 'string' && { fifo: { queue: data.q, seq: data.s as number } }),
    groups: decodeGroups(data.g as StoredGroup[], message),
    ...(typeof data.p === 'string' && { publish: data.p }),
  };
}

function decodeLog(item: Item, items: readonly Item[]): AttemptLog {
  const { data, body } = payloadsOf(item, items);
  const message = { ...(data.f as Omit<Message, 'body'>), body: body ?? new Uint8Array() };
  const sk = item[SK] as string;
  return {
    retried: Number(sk.slice(LOG_PREFIX.length)),
    outcome: item.outcome as Outcome,
    ...(typeof data.t === 'string' && { token: data.t }),
    message,
    hasBody: body !== undefined,
    ...(typeof data.ra === 'number' && { retryAt: data.ra }),
    ...(typeof data.dlq === 'string' && { dlqId: data.dlq }),
    callbacks: (data.cb as string[] | undefined) ?? [],
    groups: decodeGroups(data.g as StoredGroup[], message),
  };
}
