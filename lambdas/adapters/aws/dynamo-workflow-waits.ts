/**
 * The waits of Upstash Workflow runs on DynamoDB, for the run store (dynamo-workflow-run-store.ts,
 * whose header has the whole item list): a parked `waitForEvent` is a waiter item, found by id
 * and by event from an index of 8 shards by run id (many runs waiting for one event spread their
 * writes; a notify with a run id reads one shard), with a mark in its run's partition so that
 * ending the run finds it; a notification that came before its wait is kept in the run's
 * partition. A waiter carries `sqstash:retention` after its deadline; a kept notification, the
 * ttl of a run that goes on.
 */
import { createHash } from 'node:crypto';
import type { WorkflowNotification, WorkflowWaiter } from '../../core/workflow/workflow-run';
import type { Clock } from '../../ports/clock';
import type { WaiterClaim } from '../../ports/workflow-run-store';
import type { DynamoCalls, Item, Key } from './dynamo-calls';
import { ConditionFailedError, deleteIfThere, mapLimit } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import {
  ITEM_PAYLOAD_BYTES,
  joinPayload,
  newPartsTag,
  partKeys,
  readParts,
  splitPayload,
} from './dynamo-payloads';
import { TABLE, ttlOf } from './table';
import { nextWriterToken, padTime, shardOf } from './time-index';
import { keyOf, notExists, queryRun, runPk } from './workflow-run-partition';

export const WAITER_SHARDS = 8;
const PK = TABLE.partitionKey;
const SK = TABLE.sortKey;
const TTL = TABLE.ttlAttribute;

export type DynamoWorkflowWaitsOptions = {
  readonly clock: Clock;
  /** How long a waiter is kept after its deadline (`sqstash:retention`). */
  readonly retentionMs: number;
  /** The ttl of an item of a run that goes on (the run store's). */
  readonly liveTtl: () => number;
};

export class DynamoWorkflowWaits {
  readonly #calls: DynamoCalls;
  readonly #options: DynamoWorkflowWaitsOptions;

  constructor(calls: DynamoCalls, options: DynamoWorkflowWaitsOptions) {
    this.#calls = calls;
    this.#options = options;
  }

  /**
   * The waiter's run mark and index entry first, the waiter last: an entry without its waiter
   * is skipped by the readers, and a waiter is found as soon as it exists.
   */
  async putWaiter(waiter: WorkflowWaiter): Promise<void> {
    const { claimedBy, ...fields } = waiter;
    const ttl = ttlOf(
      Math.max(waiter.deadline, this.#options.clock.now()) + this.#options.retentionMs,
    );
    await this.#calls.batchWrite([
      {
        [PK]: runPk(waiter.runId),
        [SK]: `WAIT#${waiter.waiterId}`,
        eventId: waiter.eventId,
        createdAt: waiter.createdAt,
        [TTL]: ttl,
      },
      { ...waiterIndexKey(waiter), waiterId: waiter.waiterId, runId: waiter.runId, [TTL]: ttl },
    ]);
    try {
      await this.#calls.put(
        {
          ...waiterKey(waiter.waiterId),
          data: JSON.stringify(fields),
          ...(claimedBy !== undefined && { claimedBy }),
          [TTL]: ttl,
        },
        notExists(),
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  async getWaiter(waiterId: string): Promise<WorkflowWaiter | undefined> {
    const item = await this.#calls.get(waiterKey(waiterId));
    return item && waiterOf(item);
  }

  async listWaiters(eventId: string, runId?: string): Promise<WorkflowWaiter[]> {
    const shards =
      runId === undefined
        ? Array.from({ length: WAITER_SHARDS }, (_, shard) => shard)
        : [shardOf(runId, WAITER_SHARDS)];
    const waiterIds: string[] = [];
    await mapLimit(shards, WAITER_SHARDS, async (shard) => {
      const b = new ExpressionBuilder();
      const entries = await this.#calls.queryAll({
        KeyConditionExpression: `${b.name(PK)} = ${b.value(waiterIndexPk(eventId, shard))}`,
        ...b.parts(),
        ConsistentRead: true,
      });
      for (const entry of entries) {
        if (runId === undefined || entry.runId === runId) waiterIds.push(entry.waiterId as string);
      }
    });
    const items = await this.#calls.batchGet(waiterIds.map(waiterKey), true);
    return items
      .map(waiterOf)
      .filter((waiter) => waiter.claimedBy === undefined && waiter.eventId === eventId)
      .sort((a, b) =>
        a.createdAt === b.createdAt
          ? a.waiterId < b.waiterId
            ? -1
            : 1
          : a.createdAt - b.createdAt,
      );
  }

  async claimWaiter(waiterId: string, messageId: string): Promise<WaiterClaim> {
    const b = new ExpressionBuilder();
    const claimedBy = b.name('claimedBy');
    const by = b.value(messageId);
    let claimed: Item | undefined;
    try {
      claimed = await this.#calls.update(waiterKey(waiterId), {
        UpdateExpression: `SET ${claimedBy} = ${by}`,
        ConditionExpression: `attribute_exists(${b.name(PK)}) AND (attribute_not_exists(${claimedBy}) OR ${claimedBy} = ${by})`,
        ReturnValues: 'ALL_NEW',
        ...b.parts(),
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await this.#calls.get(waiterKey(waiterId))) ? 'taken' : 'missing';
    }
    // Resolved: notifies need not read it again.
    await this.#calls.delete(waiterIndexKey(waiterOf(claimed!)));
    return 'claimed';
  }

  async putNotification(notification: WorkflowNotification): Promise<void> {
    const key = {
      pk: runPk(notification.runId),
      sk: `${notePrefix(notification.eventId, notification.webhook === true)}${padTime(notification.createdAt)}#${nextWriterToken()}`,
    };
    const ttl = this.#options.liveTtl();
    const tag = newPartsTag();
    const data = splitPayload(key, 'D', notification.data, ITEM_PAYLOAD_BYTES, { ttl, tag });
    await this.#calls.batchWrite(data.parts);
    await this.#calls.put({
      ...key,
      eventId: notification.eventId,
      createdAt: notification.createdAt,
      data: data.inline,
      partsTag: tag,
      dataParts: data.parts.length,
      [TTL]: ttl,
    });
  }

  async takeNotification(
    runId: string,
    eventId: string,
    webhook: boolean,
  ): Promise<WorkflowNotification | undefined> {
    for (;;) {
      const b = new ExpressionBuilder();
      const output = await this.#calls.queryPage({
        KeyConditionExpression: `${b.name(PK)} = ${b.value(runPk(runId))} AND begins_with(${b.name(SK)}, ${b.value(notePrefix(eventId, webhook))})`,
        ...b.parts(),
        ConsistentRead: true,
        // An item sorts before its parts, so the first is the oldest notification.
        Limit: 1,
      });
      const oldest = output.Items?.[0];
      if (!oldest) return undefined;
      const taken = await deleteIfThere(this.#calls, keyOf(oldest));
      if (!taken) continue;
      const partCount = taken.dataParts as number;
      const parts =
        partCount > 0 ? await readParts(this.#calls, runPk(runId), oldest[SK] as string) : [];
      await this.#calls.batchWrite([], partKeys(taken, 'D', partCount));
      return {
        runId,
        eventId,
        data: joinPayload(taken.data as Uint8Array | undefined, taken, 'D', parts),
        createdAt: taken.createdAt as number,
        ...(webhook && { webhook: true }),
      };
    }
  }

  async deleteWaits(runId: string): Promise<void> {
    const [marks, notes] = await Promise.all([
      queryRun(this.#calls, runId, 'WAIT#'),
      queryRun(this.#calls, runId, 'NOTE#'),
    ]);
    const waiters = await this.#calls.batchGet(
      marks.map((mark) => waiterKey((mark[SK] as string).slice('WAIT#'.length))),
      true,
    );
    await this.#calls.batchWrite(
      [],
      [
        ...marks.map(keyOf),
        ...notes.map(keyOf),
        ...waiters.flatMap((item) => [keyOf(item), waiterIndexKey(waiterOf(item))]),
      ],
    );
  }
}

function waiterKey(waiterId: string): Key {
  return { pk: `WAITER#${waiterId}`, sk: 'WAITER' };
}

function waiterIndexPk(eventId: string, shard: number): string {
  return `WAITEV#${eventId}#${shard}`;
}

function waiterIndexKey(
  waiter: Pick<WorkflowWaiter, 'eventId' | 'runId' | 'createdAt' | 'waiterId'>,
): Key {
  return {
    pk: waiterIndexPk(waiter.eventId, shardOf(waiter.runId, WAITER_SHARDS)),
    sk: `${padTime(waiter.createdAt)}#${waiter.waiterId}`,
  };
}

/** Notifications of one event and kind: event ids may hold any character, so a digest names them. */
function notePrefix(eventId: string, webhook: boolean): string {
  return `NOTE#${webhook ? 1 : 0}#${createHash('sha256').update(eventId).digest('base64url')}#`;
}

function waiterOf(item: Item): WorkflowWaiter {
  const fields = JSON.parse(item.data as string) as Omit<WorkflowWaiter, 'claimedBy'>;
  return item.claimedBy === undefined ? fields : { ...fields, claimedBy: item.claimedBy as string };
}
