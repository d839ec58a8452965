import type { Queue, QueueSettings, QueueStore } from '../../ports/queue-store';
import type { Item } from './dynamo-calls';
import { ConditionFailedError, DynamoStoreError, TransactionConditionError } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import type { DynamoStoreOptions } from './dynamo-message-table';
import {
  DynamoMessageTable,
  keys,
  mapLimit,
  QUEUES_PARTITION,
  RACE_ATTEMPTS,
} from './dynamo-message-table';
import { TABLE } from './table';

/** A queue's first messages start one at a time unless its parallelism says otherwise. */
export const DEFAULT_QUEUE_PARALLELISM = 1;
const PARALLEL_MESSAGES = 10;

/**
 * FIFO queues on DynamoDB. Settings are one item per queue in the `QUEUES` partition (few,
 * rarely written, listed by name with a consistent query); a queue's order lives with its
 * messages, as position items in the queue's own partition (dynamo-message-table.ts). `lag` is
 * the number of distinct open positions, counted from those items.
 */
export class DynamoQueueStore implements QueueStore {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async upsertQueue(name: string, settings: Partial<QueueSettings>, nowMs: number): Promise<void> {
    const b = new ExpressionBuilder();
    const setting = (attribute: string, value: unknown, fallback: unknown) =>
      `${b.name(attribute)} = ${
        value === undefined
          ? `if_not_exists(${b.name(attribute)}, ${b.value(fallback)})`
          : b.value(value)
      }`;
    const assignments = [
      `${b.name('name')} = ${b.value(name)}`,
      setting('parallelism', settings.parallelism, DEFAULT_QUEUE_PARALLELISM),
      setting('paused', settings.paused, false),
      `${b.name('createdAt')} = if_not_exists(${b.name('createdAt')}, ${b.value(nowMs)})`,
      `${b.name('updatedAt')} = ${b.value(nowMs)}`,
    ];
    await this.#table.calls.update(keys.queue(name), {
      UpdateExpression: `SET ${assignments.join(', ')}`,
      ...b.parts(),
    });
  }

  async ensureQueue(name: string, nowMs: number): Promise<void> {
    try {
      await this.#table.calls.put(
        {
          ...keys.queue(name),
          name,
          parallelism: DEFAULT_QUEUE_PARALLELISM,
          paused: false,
          createdAt: nowMs,
          updatedAt: nowMs,
        },
        {
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
        },
      );
    } catch (error) {
      // It exists: ensureQueue never changes a queue.
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  async getQueue(name: string): Promise<Queue | undefined> {
    const item = await this.#table.calls.get(keys.queue(name));
    return item && this.#withLag(item);
  }

  async listQueues(): Promise<Queue[]> {
    const items = await this.#table.calls.queryAll({
      KeyConditionExpression: '#pk = :queues',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      ExpressionAttributeValues: { ':queues': QUEUES_PARTITION },
      ConsistentRead: true,
    });
    return Promise.all(items.map((item) => this.#withLag(item)));
  }

  /**
   * Deletes the queue. Its waiting messages are canceled; those whose attempt is in flight
   * leave the queue and finish outside it, as in SQLite.
   */
  async deleteQueue(name: string, nowMs: number): Promise<boolean> {
    const table = this.#table;
    if (!(await table.calls.get(keys.queue(name)))) return false;
    const positions = await table.queuePositions(name);
    await mapLimit(positions, PARALLEL_MESSAGES, async ({ seq, messageId }) => {
      for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
        const state = await table.readState(messageId);
        if (!state || state.fifoQueue !== name || state.fifoSeq !== seq) {
          // A position whose message is gone or elsewhere: nothing holds it any more.
          await table.calls.delete(keys.queuePosition(name, seq, messageId));
          return;
        }
        if (state.leaseUntil === undefined) {
          await table.cancelPending(messageId, nowMs, state);
          return;
        }
        try {
          await table.calls.transact([
            table.conditional(
              'Update',
              { Key: keys.state(messageId) },
              (b) => `${b.name('leaseUntil')} = ${b.value(state.leaseUntil)}`,
              (b) => `REMOVE ${b.name('fifoQueue')}, ${b.name('fifoSeq')}`,
            ),
            table.deletePosition({ name, seq }, messageId),
          ]);
          return;
        } catch (error) {
          // Settled or given back since it was read: look again.
          if (!(error instanceof TransactionConditionError && error.failedAt(0))) throw error;
        }
      }
      throw new DynamoStoreError(`queue ${name}: ${messageId} kept changing while it was deleted`);
    });
    await table.calls.delete(keys.queue(name));
    return true;
  }

  async #withLag(item: Item): Promise<Queue> {
    const positions = await this.#table.queuePositions(item.name as string);
    return {
      name: item.name as string,
      createdAt: item.createdAt as number,
      updatedAt: item.updatedAt as number,
      parallelism: item.parallelism as number,
      paused: item.paused as boolean,
      lag: new Set(positions.map(({ seq }) => seq)).size,
    };
  }
}
