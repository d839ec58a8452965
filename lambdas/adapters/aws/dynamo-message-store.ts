import { createHash } from 'node:crypto';
import type { Message } from '../../core/message';
import { canceledSettlement } from '../../core/messages';
import type { MessageFilter } from '../../ports/listing';
import type {
  AttemptSettlement,
  DedupClaim,
  InsertResult,
  MessageStore,
  NewMessage,
} from '../../ports/message-store';
import type { TransactItem } from './dynamo-calls';
import { DynamoStoreError, TransactionConditionError } from './dynamo-calls';
import {
  allOf,
  ExpressionBuilder,
  MATCHES_NOTHING,
  messageFilterConditions,
} from './dynamo-expressions';
import type { DynamoStoreOptions, MessageState } from './dynamo-message-table';
import {
  DynamoMessageTable,
  FAILED,
  filterAttributesOf,
  keys,
  mapLimit,
  PENDING,
  positionOfState,
  RACE_ATTEMPTS,
} from './dynamo-message-table';
import { padTime } from './dynamo-time-index';
import { TABLE } from './table';

/** Dedup keys longer than this are hashed: a partition key holds at most 2048 bytes. */
const MAX_DEDUP_KEY_BYTES = 1_024;
const PARALLEL_CANCELS = 10;
const MS_PER_SECOND = 1_000;

/**
 * The AWS runtime's MessageStore on DynamoDB (item layout: dynamo-message-table.ts).
 *
 * - insertMessage: the record (body) is written first; then one transaction puts the dedup
 *   claim, the state item, the CREATED event and the FIFO position. The claim's condition is
 *   `attribute_not_exists(pk) OR expiresAt <= :now`: TTL deletes expired claims lazily (up to
 *   about two days late), so the stored expiry is what counts. A claim that still holds cancels
 *   the transaction, and its holder comes back with the cancellation (ALL_OLD).
 *
 *   ```
 *   claim written        expiresAt          TTL deletes it (some time later)
 *   |---- holds: dedup hit ----|---- expired: the next publish takes the key over ----|
 *   ```
 * - settleAttempt: one transaction of the events, the state change (delivered or canceled:
 *   state and position deleted, the record kept for the log; retry: retried + 1, new due time,
 *   lease cleared; failed: marked failed, position freed, dead letter put) and the callbacks
 *   (taking their source's FIFO position). The state write is conditional on the cancel mark as
 *   read just before, so a cancel that lands in between makes it read again and apply
 *   `canceledSettlement`, as the SQLite store does in one transaction.
 * - cancelMessages: atomic per message (DynamoDB cannot make an unbounded set of changes
 *   atomic); each cancel is conditional on the state it read and re-reads when it lost a race.
 */
export class DynamoMessageStore implements MessageStore {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult> {
    const { calls } = this.#table;
    const dedupKey = dedup && keys.dedup(storedDedupKey(dedup.key));
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      if (dedupKey) {
        // Most duplicates are caught by this read, before anything is written.
        const holder = await calls.get(dedupKey);
        if (holder && (holder.expiresAt as number) > nowMs) {
          return { inserted: false, existingMessageId: holder.messageId as string };
        }
      }
      const claim: TransactItem[] =
        dedup && dedupKey
          ? [
              this.#table.conditional(
                'Put',
                {
                  Item: {
                    ...dedupKey,
                    messageId: message.messageId,
                    expiresAt: dedup.expiresAt,
                    [TABLE.ttlAttribute]: Math.ceil(dedup.expiresAt / MS_PER_SECOND),
                  },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
                (b) =>
                  `attribute_not_exists(${b.name(TABLE.partitionKey)}) OR ${b.name('expiresAt')} <= ${b.value(nowMs)}`,
              ),
            ]
          : [];
      const creation = await this.#table.prepareCreation(message, nowMs);
      try {
        await calls.transact([...claim, ...creation]);
        return { inserted: true };
      } catch (error) {
        if (!(dedupKey && error instanceof TransactionConditionError && error.failedAt(0))) {
          throw error;
        }
        await this.#table.deleteRecord(message);
        const holder =
          error.cancellations[0]?.item?.messageId?.S ??
          ((await calls.get(dedupKey))?.messageId as string | undefined);
        // Undefined: the claim went away in between (deleted by TTL); try again.
        if (holder !== undefined) return { inserted: false, existingMessageId: holder };
      }
    }
    throw new DynamoStoreError(`insert of ${message.messageId} kept losing races on its dedup key`);
  }

  /**
   * Not yet all-or-nothing here: the messages are inserted one after another, each atomic on its
   * own, so a crash part-way leaves the first ones stored. The AWS adapters' redesign (issue 10)
   * puts the list in one TransactWriteItems.
   */
  async insertMessages(messages: readonly NewMessage[], nowMs: number): Promise<InsertResult[]> {
    const results: InsertResult[] = [];
    for (const { message, dedup } of messages) {
      results.push(await this.insertMessage(message, dedup, nowMs));
    }
    return results;
  }

  async getMessage(messageId: string): Promise<Message | undefined> {
    const { state, message } = await this.#table.readMessage(messageId);
    return state ? message : undefined;
  }

  async getPendingMessage(messageId: string): Promise<Message | undefined> {
    const { state, message } = await this.#table.readMessage(messageId);
    return state?.status === PENDING && state.cancelRequestedAt === undefined ? message : undefined;
  }

  async settleAttempt(proposed: AttemptSettlement): Promise<AttemptSettlement> {
    const { messageId } = proposed.message;
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      const state = await this.#table.readState(messageId);
      const settlement =
        state?.cancelRequestedAt !== undefined ? canceledSettlement(proposed) : proposed;
      try {
        await this.#table.calls.transact(await this.#settlementItems(settlement, state));
        return settlement;
      } catch (error) {
        // The state changed since it was read (a cancel came in): read it again.
        if (!(state && error instanceof TransactionConditionError && error.failedAt(0))) {
          throw error;
        }
      }
    }
    throw new DynamoStoreError(`settlement of ${messageId} kept losing races with cancels`);
  }

  async cancelMessages(filter: MessageFilter, nowMs: number, limit?: number): Promise<number> {
    const candidates = await this.#cancelCandidates(filter);
    let cancelled = 0;
    if (limit === undefined) {
      await mapLimit(candidates, PARALLEL_CANCELS, async (state) => {
        if (await this.#table.cancelPending(state.messageId, nowMs, state)) cancelled += 1;
      });
      return cancelled;
    }
    // The earliest created first, one at a time, so that no more than `limit` are canceled
    // however many of the candidates a settlement or another cancel takes meanwhile.
    candidates.sort((a, b) => a.createdAt - b.createdAt || (a.messageId < b.messageId ? -1 : 1));
    for (const state of candidates) {
      if (cancelled === limit) break;
      if (await this.#table.cancelPending(state.messageId, nowMs, state)) cancelled += 1;
    }
    return cancelled;
  }

  /**
   * The transaction items of a settlement, with the state change first: its condition (the
   * state as read) is the one a concurrent cancel can break. A message with no state left (an
   * attempt settled twice) gets its events and callbacks, and no state change, as in SQLite.
   */
  async #settlementItems(
    settlement: AttemptSettlement,
    state: MessageState | undefined,
  ): Promise<TransactItem[]> {
    const { message, outcome } = settlement;
    const table = this.#table;
    const position = state && positionOfState(state);
    const stateKey = keys.state(message.messageId);
    const asRead = (b: ExpressionBuilder) =>
      `attribute_exists(${b.name(TABLE.partitionKey)}) AND ${
        state?.cancelRequestedAt === undefined
          ? `attribute_not_exists(${b.name('cancelRequestedAt')})`
          : `attribute_exists(${b.name('cancelRequestedAt')})`
      }`;
    const items: TransactItem[] = [];
    if (state) {
      if (outcome.kind === 'delivered' || outcome.kind === 'canceled') {
        items.push(table.conditional('Delete', { Key: stateKey }, asRead));
      } else if (outcome.kind === 'retry') {
        items.push(
          table.conditional(
            'Update',
            { Key: stateKey },
            asRead,
            (b) =>
              `SET ${b.name('retried')} = ${b.value(settlement.retried + 1)}, ${b.name('dueAt')} = ${b.value(outcome.retryAt)} REMOVE ${b.name('leaseUntil')}`,
          ),
        );
      } else {
        items.push(
          table.conditional(
            'Update',
            { Key: stateKey },
            asRead,
            (b) =>
              `SET ${b.name('status')} = ${b.value(FAILED)} REMOVE ${[
                'dueAt',
                'leaseUntil',
                TABLE.gsi1.partitionKey,
                TABLE.gsi1.sortKey,
              ]
                .map((name) => b.name(name))
                .join(', ')}`,
          ),
        );
      }
      if (position && outcome.kind !== 'retry') {
        items.push(table.deletePosition(position, message.messageId));
      }
    }
    if (outcome.kind === 'failed') {
      items.push(await table.prepareDeadLetter(outcome.deadLetter, message));
    }
    items.push(...(await table.prepareEvents(settlement.events, filterAttributesOf(message))));
    for (const callback of settlement.callbacks) {
      items.push(...(await table.prepareCreation(callback, callback.createdAt, position)));
    }
    return items;
  }

  /** The pending states a cancel filter selects (each is checked again as it is cancelled). */
  async #cancelCandidates(filter: MessageFilter): Promise<MessageState[]> {
    const { calls, shards } = this.#table;
    const probe = messageFilterConditions(new ExpressionBuilder(), filter);
    if (probe === MATCHES_NOTHING) return [];
    const notCancelled = (b: ExpressionBuilder) =>
      `${b.name('status')} = ${b.value(PENDING)} AND attribute_not_exists(${b.name('cancelRequestedAt')})`;
    if (filter.messageIds !== undefined) {
      const found = await Promise.all(
        [...new Set(filter.messageIds)].map(async (messageId) => {
          const b = new ExpressionBuilder();
          const { messageIds: _ids, ...rest } = filter;
          const conditions = messageFilterConditions(b, rest, { dateAttribute: 'createdAt' });
          const stateKey = keys.state(messageId);
          const output = await calls.queryPage({
            KeyConditionExpression: `${b.name(TABLE.partitionKey)} = ${b.value(stateKey.pk)} AND ${b.name(TABLE.sortKey)} = ${b.value(stateKey.sk)}`,
            FilterExpression: allOf([notCancelled(b), ...(conditions as string[])]),
            ...b.parts(),
            ConsistentRead: true,
          });
          return output.Items?.[0] as MessageState | undefined;
        }),
      );
      return found.filter((state) => state !== undefined);
    }
    const lo = padTime(filter.fromDate ?? 0);
    const hi = padTime(filter.toDate === undefined ? Number.MAX_SAFE_INTEGER : filter.toDate + 1);
    if (lo > hi) return [];
    const pages = await Promise.all(
      Array.from({ length: shards }, (_, shard) => {
        const b = new ExpressionBuilder();
        const conditions = messageFilterConditions(b, filter) as string[];
        return calls.queryAll({
          IndexName: TABLE.gsi1.name,
          KeyConditionExpression: `${b.name(TABLE.gsi1.partitionKey)} = ${b.value(`PENDING#${shard}`)} AND ${b.name(TABLE.gsi1.sortKey)} BETWEEN ${b.value(lo)} AND ${b.value(hi)}`,
          FilterExpression: allOf([notCancelled(b), ...conditions]),
          ...b.parts(),
        });
      }),
    );
    return pages.flat() as MessageState[];
  }
}

/** The dedup key as stored: long keys are hashed to fit a partition key. */
function storedDedupKey(dedupKey: string): string {
  if (Buffer.byteLength(dedupKey) <= MAX_DEDUP_KEY_BYTES) return dedupKey;
  return `sha256:${createHash('sha256').update(dedupKey).digest('base64url')}`;
}
