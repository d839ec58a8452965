import type { ClaimResult, DeliveryLedger } from '../../ports/delivery-ledger';
import { ConditionFailedError, DynamoStoreError } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import type { DynamoStoreOptions, MessageState, QueuePosition } from './dynamo-message-table';
import {
  DynamoMessageTable,
  keys,
  PENDING,
  positionOfState,
  RACE_ATTEMPTS,
} from './dynamo-message-table';
import { DEFAULT_QUEUE_PARALLELISM } from './dynamo-queue-store';

const MISSING: ClaimResult = { kind: 'missing' };
const IN_FLIGHT: ClaimResult = { kind: 'in-flight' };

/**
 * Per-message claims on DynamoDB, for the AWS delivery function (one SQS record, one id).
 *
 * A claim reads the message's state consistently, then decides: gone or failed is `missing`;
 * not due yet is `not-due`; in a FIFO queue, a paused queue or a position outside the queue's
 * first `parallelism` open positions (consistent read of the queue's position items) is
 * `blocked`. Otherwise a conditional update takes the lease:
 * `attribute_not_exists(leaseUntil) OR leaseUntil < :now` (with the message still pending, due
 * and not marked for cancel), so of two concurrent receives of one id exactly one wins, and the
 * other is told `in-flight`. A lease that expired (its attempt crashed) can be taken over; the
 * crashed attempt is not counted.
 *
 * A message whose cancel was requested during an attempt that then vanished (lease expired, no
 * settlement) ends CANCELED at the next claim, as SQLite ends it when its lease is freed.
 */
export class DynamoDeliveryLedger implements DeliveryLedger {
  readonly #table: DynamoMessageTable;

  constructor(options: DynamoStoreOptions) {
    this.#table = new DynamoMessageTable(options);
  }

  async claim(messageId: string, nowMs: number, leaseUntil: number): Promise<ClaimResult> {
    const table = this.#table;
    const state = await table.readState(messageId);
    if (!state || state.status !== PENDING) return MISSING;
    if (state.cancelRequestedAt !== undefined) {
      if (state.leaseUntil !== undefined && state.leaseUntil >= nowMs) return IN_FLIGHT;
      await table.endCanceled(state);
      return MISSING;
    }
    if (state.dueAt! > nowMs) return { kind: 'not-due', dueAt: state.dueAt! };
    const position = positionOfState(state);
    if (position) {
      const blocked = await this.#blocked(messageId, position);
      if (blocked) return blocked;
    }
    const b = new ExpressionBuilder();
    let leased: MessageState;
    try {
      const lease = b.name('leaseUntil');
      const now = b.value(nowMs);
      leased = (await table.calls.update(keys.state(messageId), {
        UpdateExpression: `SET ${lease} = ${b.value(leaseUntil)}`,
        ConditionExpression: `${b.name('status')} = ${b.value(PENDING)} AND attribute_not_exists(${b.name('cancelRequestedAt')}) AND ${b.name('dueAt')} <= ${now} AND (attribute_not_exists(${lease}) OR ${lease} < ${now})`,
        ...b.parts(),
        ReturnValues: 'ALL_NEW',
      })) as MessageState;
    } catch (error) {
      if (error instanceof ConditionFailedError) return IN_FLIGHT;
      throw error;
    }
    const message = await table.readRecord(messageId);
    if (!message) throw new DynamoStoreError(`message ${messageId} has a state but no record`);
    return { kind: 'claimed', message, retried: leased.retried };
  }

  async release(messageId: string): Promise<void> {
    const table = this.#table;
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      const state = await table.readState(messageId);
      if (!state || state.leaseUntil === undefined) return;
      if (state.cancelRequestedAt !== undefined) {
        if (await table.endCanceled(state)) return;
        continue;
      }
      const b = new ExpressionBuilder();
      const lease = b.name('leaseUntil');
      try {
        await table.calls.update(keys.state(messageId), {
          UpdateExpression: `REMOVE ${lease}`,
          ConditionExpression: `${lease} = ${b.value(state.leaseUntil)}`,
          ...b.parts(),
        });
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new DynamoStoreError(`release of ${messageId} kept losing races`);
  }

  /** Why a queued message may not start now, or undefined when it may. */
  async #blocked(messageId: string, position: QueuePosition): Promise<ClaimResult | undefined> {
    const queue = await this.#table.calls.get(keys.queue(position.name));
    // A queue deleted under its messages detaches them, so a missing queue has the defaults.
    if (queue?.paused === true) return { kind: 'blocked', reason: 'queue-paused' };
    const parallelism = (queue?.parallelism as number | undefined) ?? DEFAULT_QUEUE_PARALLELISM;
    const open = await this.#table.queuePositions(position.name, parallelism);
    const window = new Set<number>();
    for (const { seq } of open) {
      if (window.size === parallelism && !window.has(seq)) break;
      window.add(seq);
    }
    const holds = open.some((held) => held.messageId === messageId && held.seq === position.seq);
    return holds && window.has(position.seq)
      ? undefined
      : { kind: 'blocked', reason: 'queue-window' };
  }
}
