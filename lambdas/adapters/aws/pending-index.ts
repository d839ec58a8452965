/**
 * The pending index: `PEND#<shard>` / `<createdAt>#<messageId>`, one small item for each message
 * a filtered cancel (`DELETE /v2/messages?...`) must be able to find: every recorded message
 * (message-partition.ts) and every message waiting for a retry. Each carries the attributes the
 * message filters match on, so the cancel's queries filter server-side. An entry is put before
 * the message can be attempted and deleted with its final outcome; a cancel always checks the
 * message's history, so a stale entry cancels nothing.
 *
 * A message SQS carries alone before its first outcome has no entry: no filter reaches it
 * (README, "What is eventually visible").
 *
 * Spreading: 32 shards by message id. The index is written at the rate messages are recorded or
 * retried, which in an outage of a busy destination is every message: 10,000 retrying messages a
 * second put and delete 20,000 entries a second, 625 WCU per shard, under the 1,000 a partition
 * takes.
 */

import type { Message } from '../../core/message';
import { destinationHostAndPath } from '../../core/messages';
import type { ListOrder, MessageFilter } from '../../ports/listing';
import type { DynamoCalls, Item, Key } from './dynamo-calls';
import { mapLimit } from './dynamo-calls';
import {
  allOf,
  ExpressionBuilder,
  MATCHES_NOTHING,
  messageFilterConditions,
} from './dynamo-expressions';
import { TABLE } from './table';
import type { KeyRange } from './time-index';
import { mergedByKey, padTime, rangeOfDates, shardOf } from './time-index';

/** Shards of the pending index; every writer and reader of a table must use the same value. */
export const PENDING_SHARDS = 32;

export class PendingIndex {
  readonly #calls: DynamoCalls;

  constructor(calls: DynamoCalls) {
    this.#calls = calls;
  }

  key(message: Pick<Message, 'messageId' | 'createdAt'>): Key {
    return {
      [TABLE.partitionKey]: `PEND#${shardOf(message.messageId, PENDING_SHARDS)}`,
      [TABLE.sortKey]: `${padTime(message.createdAt)}#${message.messageId}`,
    } as Key;
  }

  /** The entry of `message`, to put (it carries the attributes filters match on). */
  item(message: Message, ttl: number): Item {
    return { ...this.key(message), ...filterAttributes(message), [TABLE.ttlAttribute]: ttl };
  }

  /**
   * The entries whose sort key (`<createdAt>#<messageId>`) is in `range`, in `order`, read a
   * page at a time as the caller takes them (the console's pending list).
   */
  entries(order: ListOrder, range: KeyRange, pageSize: number): AsyncGenerator<Item> {
    const partitions = Array.from({ length: PENDING_SHARDS }, (_, shard) => `PEND#${shard}`);
    return mergedByKey(this.#calls, partitions, order, range, { pageSize, consistent: true });
  }

  /** The ids of the entries matching `filter` (creation time bounded by fromDate/toDate). */
  async candidates(filter: MessageFilter): Promise<string[]> {
    if (messageFilterConditions(new ExpressionBuilder(), filter) === MATCHES_NOTHING) return [];
    const { lo, hi } = rangeOfDates(filter);
    if (lo > hi) return [];
    const ids: string[] = [];
    await mapLimit(
      Array.from({ length: PENDING_SHARDS }, (_, shard) => shard),
      PENDING_SHARDS,
      async (shard) => {
        const b = new ExpressionBuilder();
        const conditions = messageFilterConditions(b, filter) as string[];
        const items = await this.#calls.queryAll({
          KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(`PEND#${shard}`)} AND ${b.name(TABLE.sortKey)} BETWEEN ${b.value(lo)} AND ${b.value(hi)}`,
          ...(conditions.length > 0 && { FilterExpression: allOf(conditions) }),
          ProjectionExpression: b.name('messageId'),
          ...b.parts(),
        });
        for (const item of items) ids.push(item.messageId as string);
      },
    );
    return ids;
  }
}

/**
 * The attributes of `message` the message filters match on (messageFilterConditions), as an
 * index item carries them: this index's entries and the dead-letter index's.
 */
export function filterAttributes(message: Message): Item {
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

/**
 * An index entry (filterAttributes: the key under `flowControlKey`, labels only when any), or a
 * whole message, as the message the core's filters match.
 */
export function filterableMessage(entry: object): Message {
  const { flowControlKey, labels } = entry as { flowControlKey?: string; labels?: string[] };
  return {
    ...entry,
    labels: labels ?? [],
    ...(flowControlKey !== undefined && { flowControl: { key: flowControlKey } }),
  } as unknown as Message;
}
