/**
 * The items the DynamoDB message, DLQ, event-log, queue and delivery-ledger adapters share, in
 * the one table of table.ts (string keys; gsi1 projects all attributes). One line per item:
 *
 * | item | pk | sk | gsi1pk / gsi1sk |
 * |---|---|---|---|
 * | message record (as created: fields + body) | `MSG#<id>` | `MSG` | - |
 * | record body part (bodies over one item) | `MSG#<id>` | `MSG#PART#<nnn>` | - |
 * | message state (pending or failed) | `MSG#<id>` | `MSG#STATE` | `PENDING#<shard>` / `<createdAt>#<id>`, while pending |
 * | event | `MSG#<id>` | `EVT#<position>` | `EVT#<UTC hour>#<shard>` / `<position>` |
 * | event data part | `MSG#<id>` | `PART#EVT#<position>#<nnn>` | - |
 * | dedup claim | `DEDUP#<key>` | `DEDUP` | - (`ttl` = expiry) |
 * | dead letter | `DLQ#<dlqId>` | `DLQ` | `DLQ#<UTC hour>#<shard>` / `<failedAt>#<dlqId>` |
 * | dead letter response part | `DLQ#<dlqId>` | `PART#<nnn>` | - |
 * | time-index directory | `DIR#EVT`, `DIR#DLQ` | `<UTC hour>` | - |
 * | queue settings | `QUEUES` | `<name>` | - |
 * | queue position counter | `QUEUE#<name>` | `SEQ` | - |
 * | open queue position | `QUEUE#<name>` | `POS#<seq>#<id>` | - |
 *
 * Why this shape:
 * - The record is immutable and written once, before the transaction that makes the message
 *   visible (its state item): bodies never enter a transaction, which bills twice per KB and
 *   caps at 4 MB. A dedup hit or failed transaction leaves an unreferenced record behind, which
 *   the writer deletes. The record outlives delivery: the log and the DLQ echo it.
 * - The state item is small and carries everything that changes per attempt (lease, retried,
 *   due time, cancel mark), so a lease or a retry writes about 1 KB, whatever the body's size.
 *   It also carries the filter attributes (url, host, path, topicName, queueName, scheduleId,
 *   callerIp, labels), as events and dead letters do, so filters run as FilterExpressions.
 * - Events are lean: their own fields plus the filter attributes, never the body; a large
 *   response body goes to part items written before the transaction.
 * - A FIFO queue's open messages are position items in the queue's partition, written and
 *   deleted in the same transactions as the state, and read with consistent queries: a claim
 *   must see a callback that took its source's position, which a GSI (eventually consistent)
 *   could miss. gsi2 is left unused.
 * - Items stay well below 400 KB: bodies and payloads are cut into parts of ITEM_PAYLOAD_BYTES.
 */
import { randomBytes } from 'node:crypto';
import type { DeadLetter, LogEvent, Message } from '../../core/message';
import { decodeMessage, encodeMessageFields } from '../../core/message-codec';
import { cancelEvents, canceledEvent, destinationHostAndPath } from '../../core/messages';
import type { DynamoTableOptions, Item, Key, TransactItem } from './dynamo-calls';
import { DynamoCalls, DynamoStoreError, TransactionConditionError } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { positionOf, shardOf, TimeIndex } from './dynamo-time-index';
import { TABLE } from './table';

/** How every DynamoDB store adapter is built: `new DynamoMessageStore({ client, tableName })`. */
export type DynamoStoreOptions = DynamoTableOptions & {
  /**
   * GSI partitions each hour of the event and DLQ indexes, and the pending-message index, is
   * spread over. Every writer and reader of a table must use the same value.
   * @default 4
   */
  readonly timeIndexShards?: number;
  /** Most items a listing examines for one page before answering with what it found. @default 2000 */
  readonly maxExaminedPerPage?: number;
};

const DEFAULT_SHARDS = 4;
const DEFAULT_MAX_EXAMINED = 2_000;
/** Bytes of payload per item, leaving room under DynamoDB's 400 KB for names and small fields. */
export const ITEM_PAYLOAD_BYTES = 350_000;
/**
 * Payloads of items written in transactions (events, dead letters) larger than this go to part
 * items written before the transaction: a transaction bills every KB twice.
 */
const INLINE_PAYLOAD_BYTES = 4_096;
/** Conditional writes that lose a race are re-read and tried again this often. */
export const RACE_ATTEMPTS = 5;
const PART_DIGITS = 3;
const SEQ_DIGITS = 15;
const PARALLEL_WRITES = 10;

// The key shape the layout above is written in.
const PK: 'pk' = TABLE.partitionKey;
const SK: 'sk' = TABLE.sortKey;

/** A state's `status`: it may still be attempted. */
export const PENDING = 'pending';
/** A state's `status`: it failed for good and is kept for its dead letter. */
export const FAILED = 'failed';

function key(pk: string, sk: string): Key {
  return { [PK]: pk, [SK]: sk };
}

function partSuffix(index: number): string {
  return String(index).padStart(PART_DIGITS, '0');
}

/** The partition holding every queue's settings, one item per queue, sorted by name. */
export const QUEUES_PARTITION = 'QUEUES';

/** The keys of the items in the table above. */
export const keys = {
  record: (messageId: string) => key(`MSG#${messageId}`, 'MSG'),
  state: (messageId: string) => key(`MSG#${messageId}`, 'MSG#STATE'),
  dedup: (dedupKey: string) => key(`DEDUP#${dedupKey}`, 'DEDUP'),
  deadLetter: (dlqId: string) => key(`DLQ#${dlqId}`, 'DLQ'),
  queue: (name: string) => key(QUEUES_PARTITION, name),
  queueCounter: (name: string) => key(`QUEUE#${name}`, 'SEQ'),
  queuePosition: (name: string, seq: number, messageId: string) =>
    key(`QUEUE#${name}`, `POS#${String(seq).padStart(SEQ_DIGITS, '0')}#${messageId}`),
};

/** The attributes message filters match on, copied onto states, events and dead letters. */
export type FilterAttributes = {
  readonly messageId: string;
  readonly url: string;
  readonly host: string;
  readonly path: string;
  readonly topicName?: string;
  readonly queueName?: string;
  readonly scheduleId?: string;
  readonly callerIp?: string;
  readonly flowControlKey?: string;
  readonly labels?: readonly string[];
};

const FILTER_ATTRIBUTES = [
  'messageId',
  'url',
  'host',
  'path',
  'topicName',
  'queueName',
  'scheduleId',
  'callerIp',
  'flowControlKey',
  'labels',
] as const;

/** The filter attributes of a message, as every item about it carries them. */
export function filterAttributesOf(message: Message): FilterAttributes {
  const { host, path } = destinationHostAndPath(message.url);
  return {
    messageId: message.messageId,
    url: message.url,
    host,
    path,
    topicName: message.topicName,
    queueName: message.queueName,
    scheduleId: message.scheduleId,
    callerIp: message.callerIp,
    flowControlKey: message.flowControl?.key,
    ...(message.labels.length > 0 && { labels: [...message.labels] }),
  };
}

function pickFilterAttributes(item: Item): FilterAttributes {
  return Object.fromEntries(
    FILTER_ATTRIBUTES.filter((name) => item[name] !== undefined).map((name) => [name, item[name]]),
  ) as FilterAttributes;
}

/** A FIFO queue slot: the queue and the position a message (and its callbacks) holds in it. */
export type QueuePosition = { readonly name: string; readonly seq: number };

/** A message's mutable state item. */
export type MessageState = FilterAttributes & {
  readonly status: typeof PENDING | typeof FAILED;
  /** The attempt number the next attempt has (`Upstash-Retried`). */
  readonly retried: number;
  /** When it may next be attempted; absent once it failed. */
  readonly dueAt?: number;
  /** Set while an attempt holds it. */
  readonly leaseUntil?: number;
  /** Set when a cancel arrived while an attempt held it. */
  readonly cancelRequestedAt?: number;
  readonly createdAt: number;
  /** The FIFO position it holds, its own or (a callback) its source's. */
  readonly fifoQueue?: string;
  readonly fifoSeq?: number;
};

/** The FIFO position a state holds, if any. */
export function positionOfState(state: MessageState): QueuePosition | undefined {
  return state.fifoQueue !== undefined && state.fifoSeq !== undefined
    ? { name: state.fifoQueue, seq: state.fifoSeq }
    : undefined;
}

// Event positions order events of one millisecond by the order this process appended them;
// across processes, same-millisecond events have no defined order, and the writer id decides.
const WRITER_ID = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0');
let appended = 0;

function nextEventTiebreak(): string {
  appended += 1;
  return `${appended.toString(36).padStart(8, '0')}${WRITER_ID}`;
}

/** The positions event cursors may name: a bare time or one this module wrote. */
export const EVENT_POSITION = /^\d{15}(#[0-9a-z]{16})?$/;
/** The positions dead-letter cursors may name: `<failedAt>#<dlqId>` or a bare time. */
export const DEAD_LETTER_POSITION = /^\d{15}(#.+)?$/s;

/** Splits `bytes` into the part kept inline (up to `firstBytes`) and parts of ITEM_PAYLOAD_BYTES. */
function split(bytes: Uint8Array, firstBytes: number): { inline: Uint8Array; parts: Uint8Array[] } {
  const inline = bytes.subarray(0, firstBytes);
  const parts: Uint8Array[] = [];
  for (let start = firstBytes; start < bytes.byteLength; start += ITEM_PAYLOAD_BYTES) {
    parts.push(bytes.subarray(start, start + ITEM_PAYLOAD_BYTES));
  }
  return { inline, parts };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const EMPTY = new Uint8Array();

/**
 * Shared by the DynamoDB adapters: the calls, the item layout above, and the writes several
 * adapters make (creating a message, appending events, cancelling one).
 */
export class DynamoMessageTable {
  readonly calls: DynamoCalls;
  readonly events: TimeIndex;
  readonly deadLetters: TimeIndex;
  readonly shards: number;
  readonly maxExamined: number;

  constructor(options: DynamoStoreOptions) {
    this.calls = new DynamoCalls(options);
    this.shards = options.timeIndexShards ?? DEFAULT_SHARDS;
    this.maxExamined = options.maxExaminedPerPage ?? DEFAULT_MAX_EXAMINED;
    this.events = new TimeIndex(this.calls, 'EVT', this.shards);
    this.deadLetters = new TimeIndex(this.calls, 'DLQ', this.shards);
  }

  get tableName(): string {
    return this.calls.tableName;
  }

  // ---- messages ---------------------------------------------------------------------------

  /** A message's state and record, read together, consistently. */
  async readMessage(messageId: string): Promise<{ state?: MessageState; message?: Message }> {
    const { pk } = keys.record(messageId);
    const builder = new ExpressionBuilder();
    const items = await this.calls.queryAll({
      KeyConditionExpression: `${builder.name(PK)} = ${builder.value(pk)} AND begins_with(${builder.name(SK)}, ${builder.value('MSG')})`,
      ...builder.parts(),
      ConsistentRead: true,
    });
    const state = items.find((item) => item[SK] === keys.state(messageId).sk);
    const record = items.find((item) => item[SK] === keys.record(messageId).sk);
    const parts = items.filter((item) => (item[SK] as string).startsWith('MSG#PART#'));
    return {
      ...(state && { state: state as MessageState }),
      ...(record && { message: decodeRecord(record, parts.map(blobOf)) }),
    };
  }

  async readState(messageId: string): Promise<MessageState | undefined> {
    return (await this.calls.get(keys.state(messageId))) as MessageState | undefined;
  }

  /** The records of messages as created, for listings; ids without a record are left out. */
  async readRecords(messageIds: readonly string[]): Promise<Map<string, Message>> {
    const ids = [...new Set(messageIds)];
    const records = await this.calls.batchGet(ids.map(keys.record), false);
    const found = new Set(records.map((record) => record.messageId as string));
    // Eventually consistent reads may miss a record written a moment ago: ask again, consistently.
    const late = ids.filter((id) => !found.has(id));
    if (late.length > 0) records.push(...(await this.calls.batchGet(late.map(keys.record), true)));
    const messages = new Map<string, Message>();
    await mapLimit(records, PARALLEL_WRITES, async (record) => {
      const parts = record.bodyParts
        ? await this.#readParts(record[PK] as string, 'MSG#PART#')
        : [];
      messages.set(record.messageId as string, decodeRecord(record, parts));
    });
    return messages;
  }

  /** One message's record; undefined when there is none. */
  async readRecord(messageId: string): Promise<Message | undefined> {
    return (await this.readRecords([messageId])).get(messageId);
  }

  /**
   * Writes a message's record (and body parts), outside any transaction. Parts go first, so a
   * record never names a part that is not there.
   */
  async writeRecord(message: Message): Promise<void> {
    const fields = encodeMessageFields(message);
    const room = ITEM_PAYLOAD_BYTES - Buffer.byteLength(fields);
    if (room < 0) {
      throw new DynamoStoreError(
        `message ${message.messageId}: its configuration (${Buffer.byteLength(fields)} bytes) does not fit one DynamoDB item`,
      );
    }
    const { pk } = keys.record(message.messageId);
    const { inline, parts } = split(message.body, room);
    await mapLimit(parts, PARALLEL_WRITES, (blob, index) =>
      this.calls.put({ ...key(pk, `MSG#PART#${partSuffix(index)}`), blob }),
    );
    await this.calls.put({
      ...keys.record(message.messageId),
      messageId: message.messageId,
      fields,
      body: inline,
      ...(parts.length > 0 && { bodyParts: parts.length }),
    });
  }

  /** Removes a record no state refers to (its creation did not go through), then its parts. */
  async deleteRecord(message: Message): Promise<void> {
    const room = ITEM_PAYLOAD_BYTES - Buffer.byteLength(encodeMessageFields(message));
    const { pk } = keys.record(message.messageId);
    const { parts } = split(message.body, Math.max(room, 0));
    await this.calls.delete(keys.record(message.messageId));
    await mapLimit(parts, PARALLEL_WRITES, (_, index) =>
      this.calls.delete(key(pk, `MSG#PART#${partSuffix(index)}`)),
    );
  }

  /** Takes the next position of a FIFO queue (an atomic counter; unused numbers are harmless). */
  async nextQueueSeq(queueName: string): Promise<number> {
    const builder = new ExpressionBuilder();
    const attributes = await this.calls.update(keys.queueCounter(queueName), {
      UpdateExpression: `ADD ${builder.name('seq')} ${builder.value(1)}`,
      ...builder.parts(),
      ReturnValues: 'UPDATED_NEW',
    });
    return attributes?.seq as number;
  }

  /**
   * Writes the record of a new message, and returns the transaction items that create it: its
   * state, its CREATED event at `nowMs` and, in a FIFO queue, its position. A queued message
   * takes the next position of its queue unless `position` (its source's) is given.
   */
  async prepareCreation(
    message: Message,
    nowMs: number,
    position?: QueuePosition,
  ): Promise<TransactItem[]> {
    const slot =
      position ??
      (message.queueName === undefined
        ? undefined
        : { name: message.queueName, seq: await this.nextQueueSeq(message.queueName) });
    await this.writeRecord(message);
    const attributes = filterAttributesOf(message);
    const state = {
      ...keys.state(message.messageId),
      ...attributes,
      status: PENDING,
      retried: 0,
      dueAt: message.notBefore,
      createdAt: message.createdAt,
      fifoQueue: slot?.name,
      fifoSeq: slot?.seq,
      [TABLE.gsi1.partitionKey]: `PENDING#${shardOf(message.messageId, this.shards)}`,
      [TABLE.gsi1.sortKey]: positionOf(message.createdAt, message.messageId),
    };
    const builder = new ExpressionBuilder();
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: state,
          ConditionExpression: `attribute_not_exists(${builder.name(PK)})`,
          ...builder.parts(),
        },
      },
      ...(await this.prepareEvents(
        [{ time: nowMs, messageId: message.messageId, state: 'CREATED', url: message.url }],
        attributes,
      )),
      ...(slot ? [this.putPosition(slot, message.messageId)] : []),
    ];
  }

  putPosition(position: QueuePosition, messageId: string): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...keys.queuePosition(position.name, position.seq, messageId), messageId },
      },
    };
  }

  deletePosition(position: QueuePosition, messageId: string): TransactItem {
    return {
      Delete: {
        TableName: this.tableName,
        Key: keys.queuePosition(position.name, position.seq, messageId),
      },
    };
  }

  /** A transaction item with a condition built by `condition`. */
  conditional<T extends 'Put' | 'Update' | 'Delete' | 'ConditionCheck'>(
    kind: T,
    input: Record<string, unknown>,
    condition: (builder: ExpressionBuilder) => string,
    update?: (builder: ExpressionBuilder) => string,
  ): TransactItem {
    const builder = new ExpressionBuilder();
    const ConditionExpression = condition(builder);
    const UpdateExpression = update?.(builder);
    return {
      [kind]: {
        TableName: this.tableName,
        ...input,
        ...(UpdateExpression !== undefined && { UpdateExpression }),
        ConditionExpression,
        ...builder.parts(),
      },
    } as TransactItem;
  }

  // ---- events -----------------------------------------------------------------------------

  /**
   * The transaction items appending `events` of one message, whose filter attributes they
   * carry. Registers their hours in the directory and writes oversized data parts first.
   */
  async prepareEvents(
    events: readonly LogEvent[],
    attributes: FilterAttributes,
  ): Promise<TransactItem[]> {
    if (events.length === 0) return [];
    await this.events.register(events.map((event) => event.time));
    const items: Item[] = [];
    const parts: Item[] = [];
    for (const event of events) {
      const position = positionOf(event.time, nextEventTiebreak());
      const { time, messageId, state, url, ...rest } = event;
      const pk = keys.record(messageId).pk;
      const item: Item = {
        ...key(pk, `EVT#${position}`),
        ...this.events.keys(time, position, messageId),
        ...attributes,
        messageId,
        state,
        time,
      };
      const extra = url === attributes.url ? rest : { ...rest, url };
      if (Object.keys(extra).length > 0) {
        const data = Buffer.from(JSON.stringify(extra), 'utf8');
        if (data.byteLength <= INLINE_PAYLOAD_BYTES) {
          item.data = data.toString('utf8');
        } else {
          const { parts: chunks } = split(data, 0);
          for (const [index, blob] of chunks.entries()) {
            parts.push({ ...key(pk, `PART#EVT#${position}#${partSuffix(index)}`), blob });
          }
          item.dataParts = chunks.length;
        }
      }
      items.push(item);
    }
    await mapLimit(parts, PARALLEL_WRITES, (part) => this.calls.put(part));
    return items.map((Item) => ({ Put: { TableName: this.tableName, Item } }));
  }

  async decodeEvent(item: Item): Promise<LogEvent> {
    let data = item.data as string | undefined;
    if (item.dataParts) {
      const position = item[TABLE.gsi1.sortKey] as string;
      const parts = await this.#readParts(item[PK] as string, `PART#EVT#${position}#`);
      data = Buffer.from(concat(parts)).toString('utf8');
    }
    return {
      time: item.time as number,
      messageId: item.messageId as string,
      state: item.state as LogEvent['state'],
      url: item.url as string,
      ...(data !== undefined && (JSON.parse(data) as Partial<LogEvent>)),
    };
  }

  // ---- dead letters -----------------------------------------------------------------------

  /** The transaction item storing a dead letter of `message`; writes oversized parts first. */
  async prepareDeadLetter(deadLetter: DeadLetter, message: Message): Promise<TransactItem> {
    await this.deadLetters.register([deadLetter.failedAt]);
    const position = positionOf(deadLetter.failedAt, deadLetter.dlqId);
    const { pk } = keys.deadLetter(deadLetter.dlqId);
    const item: Item = {
      ...keys.deadLetter(deadLetter.dlqId),
      ...this.deadLetters.keys(deadLetter.failedAt, position, deadLetter.dlqId),
      ...filterAttributesOf(message),
      dlqId: deadLetter.dlqId,
      messageId: deadLetter.messageId,
      failedAt: deadLetter.failedAt,
      responseStatus: deadLetter.responseStatus,
      data: JSON.stringify({
        responseHeader: deadLetter.responseHeader,
        ...(deadLetter.error !== undefined && { error: deadLetter.error }),
      }),
    };
    if (deadLetter.responseBody.byteLength <= INLINE_PAYLOAD_BYTES) {
      item.responseBody = deadLetter.responseBody;
    } else {
      const { parts } = split(deadLetter.responseBody, 0);
      await mapLimit(parts, PARALLEL_WRITES, (blob, index) =>
        this.calls.put({ ...key(pk, `PART#${partSuffix(index)}`), blob }),
      );
      item.responseBodyParts = parts.length;
    }
    return { Put: { TableName: this.tableName, Item: item } };
  }

  async decodeDeadLetter(item: Item): Promise<DeadLetter> {
    const { responseHeader, error } = JSON.parse(item.data as string) as {
      responseHeader: DeadLetter['responseHeader'];
      error?: string;
    };
    const responseBody = item.responseBodyParts
      ? concat(await this.#readParts(item[PK] as string, 'PART#'))
      : ((item.responseBody as Uint8Array | undefined) ?? EMPTY);
    return {
      dlqId: item.dlqId as string,
      messageId: item.messageId as string,
      failedAt: item.failedAt as number,
      responseStatus: item.responseStatus as number,
      responseHeader,
      responseBody,
      ...(error !== undefined && { error }),
    };
  }

  /** Deletes a dead letter's response parts, after the dead letter itself went. */
  async deleteDeadLetterParts(item: Item): Promise<void> {
    const count = (item.responseBodyParts as number | undefined) ?? 0;
    await mapLimit(Array.from({ length: count }), PARALLEL_WRITES, (_, index) =>
      this.calls.delete(key(item[PK] as string, `PART#${partSuffix(index)}`)),
    );
  }

  // ---- cancel -----------------------------------------------------------------------------

  /**
   * Cancels one message if it is pending, from its state as last read (re-read on a lost race):
   * one waiting for an attempt is removed with CANCEL_REQUESTED and CANCELED events; one whose
   * attempt is in flight is marked, with a CANCEL_REQUESTED event. Resolves whether it was.
   */
  async cancelPending(messageId: string, nowMs: number, read?: MessageState): Promise<boolean> {
    let state = read ?? (await this.readState(messageId));
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      if (!state || state.status !== PENDING || state.cancelRequestedAt !== undefined) {
        return false;
      }
      const inFlight = state.leaseUntil !== undefined;
      const position = positionOfState(state);
      const stateKey = keys.state(messageId);
      const pending = (builder: ExpressionBuilder) =>
        `${builder.name('status')} = ${builder.value(PENDING)} AND attribute_not_exists(${builder.name('cancelRequestedAt')}) AND ${
          inFlight
            ? `${builder.name('leaseUntil')} = ${builder.value(state!.leaseUntil)}`
            : `attribute_not_exists(${builder.name('leaseUntil')})`
        }`;
      const items: TransactItem[] = [
        inFlight
          ? this.conditional(
              'Update',
              { Key: stateKey },
              pending,
              (builder) => `SET ${builder.name('cancelRequestedAt')} = ${builder.value(nowMs)}`,
            )
          : this.conditional('Delete', { Key: stateKey }, pending),
        ...(!inFlight && position ? [this.deletePosition(position, messageId)] : []),
        ...(await this.prepareEvents(
          cancelEvents({ messageId, url: state.url }, nowMs, inFlight),
          pickFilterAttributes(state),
        )),
      ];
      try {
        await this.calls.transact(items);
        return true;
      } catch (error) {
        if (!(error instanceof TransactionConditionError && error.failedAt(0))) throw error;
        state = await this.readState(messageId);
      }
    }
    throw new DynamoStoreError(`cancel of ${messageId} kept losing races with its delivery`);
  }

  /**
   * Ends CANCELED a message whose cancel waited for its attempt, when the attempt is given back
   * or abandoned: deletes its state and position, with a CANCELED event at the time the cancel
   * was requested. Resolves false when the state changed since it was read.
   */
  async endCanceled(state: MessageState): Promise<boolean> {
    const position = positionOfState(state);
    const items: TransactItem[] = [
      this.conditional(
        'Delete',
        { Key: keys.state(state.messageId) },
        (builder) =>
          `${builder.name('cancelRequestedAt')} = ${builder.value(state.cancelRequestedAt)} AND ${
            state.leaseUntil === undefined
              ? `attribute_not_exists(${builder.name('leaseUntil')})`
              : `${builder.name('leaseUntil')} = ${builder.value(state.leaseUntil)}`
          }`,
      ),
      ...(position ? [this.deletePosition(position, state.messageId)] : []),
      ...(await this.prepareEvents(
        [canceledEvent({ messageId: state.messageId, url: state.url }, state.cancelRequestedAt!)],
        pickFilterAttributes(state),
      )),
    ];
    try {
      await this.calls.transact(items);
      return true;
    } catch (error) {
      if (error instanceof TransactionConditionError && error.failedAt(0)) return false;
      throw error;
    }
  }

  // ---- queues -----------------------------------------------------------------------------

  /**
   * The open positions of a FIFO queue in order, read consistently; with `distinct`, reading
   * stops once more than that many distinct positions were seen.
   */
  async queuePositions(
    queueName: string,
    distinct = Number.POSITIVE_INFINITY,
  ): Promise<{ seq: number; messageId: string }[]> {
    const { pk } = keys.queueCounter(queueName);
    const positions: { seq: number; messageId: string }[] = [];
    const seen = new Set<number>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const builder = new ExpressionBuilder();
      const output = await this.calls.queryPage({
        KeyConditionExpression: `${builder.name(PK)} = ${builder.value(pk)} AND begins_with(${builder.name(SK)}, ${builder.value('POS#')})`,
        ProjectionExpression: builder.name(SK),
        ...builder.parts(),
        ConsistentRead: true,
        ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
      });
      for (const item of output.Items ?? []) {
        const [, seq, ...id] = (item[SK] as string).split('#');
        positions.push({ seq: Number(seq), messageId: id.join('#') });
        seen.add(Number(seq));
        if (seen.size > distinct) return positions;
      }
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
    return positions;
  }

  async #readParts(pk: string, prefix: string): Promise<Uint8Array[]> {
    const builder = new ExpressionBuilder();
    const items = await this.calls.queryAll({
      KeyConditionExpression: `${builder.name(PK)} = ${builder.value(pk)} AND begins_with(${builder.name(SK)}, ${builder.value(prefix)})`,
      ...builder.parts(),
      ConsistentRead: true,
    });
    return items.map(blobOf);
  }
}

function blobOf(item: Item): Uint8Array {
  return item.blob as Uint8Array;
}

function decodeRecord(record: Item, parts: readonly Uint8Array[]): Message {
  const inline = (record.body as Uint8Array | undefined) ?? EMPTY;
  return decodeMessage(
    record.fields as string,
    parts.length > 0 ? concat([inline, ...parts]) : inline,
  );
}

/** Runs `run` over `items`, at most `limit` at a time. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await run(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
