import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { abandonDelivery } from '../core/delivery';
import type { ProcessDeliveryDeps } from '../core/process-delivery';
import type { DeliveryLedger } from '../ports/delivery-ledger';
import type { Logger } from '../ports/logger';
import { readQueueBody } from './delivery-batch';

export type DeadLetterBatchDeps = {
  readonly delivery: ProcessDeliveryDeps;
  readonly ledger: DeliveryLedger;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly onFailed?: () => void;
};

const REQUEUE_DELAY_MS = 60_000;

/**
 * Consumes the SQS dead-letter queue, where SQS moves an entry whose deliveries kept ending
 * without a settlement (the function crashed, timed out or was throttled past maxReceiveCount).
 * A message that is still pending is dead-lettered in the store with the reason, and its
 * failure callback fires, as after exhausted retries; one that merely waits (not due, or
 * behind others in its FIFO queue) goes back to the delivery queue instead. A schedule's tick
 * that kept failing to fire is logged and dropped: the schedule goes on with its next tick.
 */
export async function handleDeadLetterBatch(
  deps: DeadLetterBatchDeps,
  event: SQSEvent,
): Promise<SQSBatchResponse> {
  const failures = await Promise.all(event.Records.map((record) => handleRecord(deps, record)));
  return { batchItemFailures: failures.filter((failure) => failure !== undefined) };
}

async function handleRecord(
  deps: DeadLetterBatchDeps,
  record: SQSRecord,
): Promise<SQSBatchItemFailure | undefined> {
  const body = readQueueBody(deps.logger, record);
  if (body === undefined) return undefined;
  if (body.kind === 'tick') {
    // Its firing kept failing until SQS gave up. The schedule's next tick fires as usual.
    deps.logger.error('dropped a schedule tick that could not fire', {
      scheduleId: body.scheduleId,
      tick: new Date(body.tickTime).toISOString(),
      receives: record.attributes.ApproximateReceiveCount,
    });
    return undefined;
  }
  const { messageId } = body;
  const { clock, store, queue } = deps.delivery;
  try {
    const now = clock.now();
    const claim = await deps.ledger.claim(messageId, now, now + deps.leaseMs);
    switch (claim.kind) {
      case 'missing':
      case 'in-flight':
        // Settled meanwhile, or an attempt is running that will settle it.
        return undefined;
      case 'not-due':
        await queue.enqueue(messageId, claim.dueAt);
        return undefined;
      case 'blocked':
        await queue.enqueue(messageId, now + REQUEUE_DELAY_MS);
        return undefined;
      case 'claimed': {
        const receives = record.attributes.ApproximateReceiveCount;
        const settlement = abandonDelivery(
          deps.delivery,
          claim.message,
          claim.retried,
          `delivery did not complete after ${receives} receives (the function crashed, timed out or was throttled)`,
        );
        for (const callback of settlement.callbacks) {
          await queue.enqueue(callback.messageId, callback.notBefore);
        }
        await store.settleAttempt(settlement);
        deps.onFailed?.();
        deps.logger.warn('dead-lettered a message SQS gave up on', { messageId, receives });
        return undefined;
      }
    }
  } catch (error) {
    deps.logger.error('could not process a dead-letter entry; it will be retried', {
      messageId,
      error: error instanceof Error ? error.message : String(error),
    });
    return { itemIdentifier: record.messageId };
  }
}
