import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeliveryQueueBody } from '../adapters/aws/delivery-message-body';
import {
  MalformedDeliveryMessageError,
  parseDeliveryQueueBody,
} from '../adapters/aws/delivery-message-body';
import type { ProcessDeliveryDeps } from '../core/process-delivery';
import { processDelivery } from '../core/process-delivery';
import type { ScheduleDeps, TickOutcome } from '../core/schedules';
import { fireSchedule } from '../core/schedules';
import type { DeliveryLedger } from '../ports/delivery-ledger';
import type { Logger } from '../ports/logger';

/** Makes a received SQS message visible again after `delaySec` (ChangeMessageVisibility). */
export type Postpone = (receiptHandle: string, delaySec: number) => Promise<void>;

export type DeliveryOutcomeKind = 'delivered' | 'retry' | 'failed' | 'canceled';

export type DeliveryBatchDeps = {
  readonly delivery: ProcessDeliveryDeps;
  /** What a schedule's tick needs to publish its message. */
  readonly schedules: ScheduleDeps;
  readonly ledger: DeliveryLedger;
  readonly postpone: Postpone;
  readonly logger: Logger;
  /** How long a claim is held: longer than any attempt, shorter than the queue's visibility timeout. */
  readonly leaseMs: number;
  readonly onOutcome?: (kind: DeliveryOutcomeKind) => void;
};

const SECOND_MS = 1000;
/**
 * SQS keeps a message invisible for at most 12 h from its receive, counting the time already
 * spent (aws-facts.md §1): an attempt may take up to the function's timeout (at most 15 min)
 * before it postpones, so longer waits use a fresh entry instead.
 */
const MAX_VISIBILITY_SEC = 11 * 60 * 60;
/**
 * A publish queues its message before storing it, so a fresh entry may arrive before the
 * store has the message: it is looked at once more after this long, then taken as a stray.
 */
const MISSING_GRACE_MS = 30_000;
const IN_FLIGHT_RECHECK_MS = 30_000;
/** A message waiting for its FIFO turn is looked at again after 1, 2, 4 ... up to 60 s. */
const MAX_QUEUE_WAIT_SEC = 60;

/**
 * The AWS delivery function's work for one SQS batch: claim each message in the store, attempt
 * it through the same core as the embedded runtime, then tell SQS what follows. A retry keeps
 * the same SQS entry, made visible again when due (ChangeMessageVisibility) and reported as a
 * batch item failure so Lambda does not delete it; the attempt count lives in the store.
 *
 * The queue also carries the ticks of cron schedules, which their EventBridge schedules send
 * (`{"scheduleId", "tick"}`): each is fired through the core (`fireSchedule`, idempotent per
 * tick, so a tick Scheduler or SQS delivers twice publishes one message), then acknowledged.
 */
export async function handleDeliveryBatch(
  deps: DeliveryBatchDeps,
  event: SQSEvent,
): Promise<SQSBatchResponse> {
  const failures = await Promise.all(event.Records.map((record) => handleRecord(deps, record)));
  return { batchItemFailures: failures.filter((failure) => failure !== undefined) };
}

/** Resolves a batch item failure to keep the SQS entry, or undefined to let Lambda delete it. */
async function handleRecord(
  deps: DeliveryBatchDeps,
  record: SQSRecord,
): Promise<SQSBatchItemFailure | undefined> {
  const body = readQueueBody(deps.logger, record);
  if (body === undefined) return undefined;
  if (body.kind === 'tick') return handleTick(deps, record, body.scheduleId, body.tickTime);
  const { messageId } = body;
  const { clock, queue } = deps.delivery;
  // Visible again when due: the same SQS entry for up to 12 h, a fresh one (an SQS delay or a
  // Scheduler schedule) beyond that.
  const postpone = async (delayMs: number, nowMs: number) => {
    const delaySec = Math.ceil(Math.max(delayMs, 0) / SECOND_MS);
    if (delaySec > MAX_VISIBILITY_SEC) {
      await queue.enqueue(messageId, nowMs + delayMs);
      return undefined;
    }
    await deps.postpone(record.receiptHandle, delaySec);
    return { itemIdentifier: record.messageId };
  };
  try {
    const now = clock.now();
    const claim = await deps.ledger.claim(messageId, now, now + deps.leaseMs);
    switch (claim.kind) {
      case 'missing': {
        const age = now - Number(record.attributes.SentTimestamp);
        return age < MISSING_GRACE_MS ? postpone(MISSING_GRACE_MS, now) : undefined;
      }
      case 'in-flight':
        return postpone(IN_FLIGHT_RECHECK_MS, now);
      case 'not-due':
        return postpone(claim.dueAt - now, now);
      case 'blocked': {
        // Waits 1, 2, 4 ... 60 s as it keeps finding its turn not come. A long wait can push the
        // entry past maxReceiveCount into the SQS DLQ, whose consumer puts it back in line.
        const receives = Number(record.attributes.ApproximateReceiveCount);
        return postpone(Math.min(2 ** (receives - 1), MAX_QUEUE_WAIT_SEC) * SECOND_MS, now);
      }
      case 'claimed': {
        const settlement = await processDelivery(deps.delivery, claim.message, claim.retried);
        deps.onOutcome?.(settlement.outcome.kind);
        if (settlement.outcome.kind !== 'retry') return undefined;
        const settledAt = clock.now();
        return postpone(settlement.outcome.retryAt - settledAt, settledAt);
      }
    }
  } catch (error) {
    // Left to SQS: the entry comes back after the visibility timeout, the lease has expired by
    // then, and the attempt runs again (at-least-once).
    deps.logger.error('delivery failed before it could be settled; SQS will redeliver', {
      messageId,
      error: error instanceof Error ? error.message : String(error),
    });
    return { itemIdentifier: record.messageId };
  }
}

/**
 * Fires a schedule's tick. A thrown error (a store fault) leaves the entry to SQS, which hands
 * it over again after the visibility timeout; the tick's idempotency makes that safe.
 */
async function handleTick(
  deps: DeliveryBatchDeps,
  record: SQSRecord,
  scheduleId: string,
  tickTime: number,
): Promise<SQSBatchItemFailure | undefined> {
  const tick = new Date(tickTime).toISOString();
  let outcome: TickOutcome;
  try {
    outcome = await fireSchedule(deps.schedules, scheduleId, tickTime);
  } catch (error) {
    deps.logger.error('a schedule tick could not fire; SQS will redeliver it', {
      scheduleId,
      tick,
      error: error instanceof Error ? error.message : String(error),
    });
    return { itemIdentifier: record.messageId };
  }
  if (outcome === 'skipped') await removeOrphanedTrigger(deps, scheduleId, tick);
  return undefined;
}

/**
 * A tick of a schedule that no longer exists means its EventBridge schedule outlived it (the
 * delete's DeleteSchedule failed after the store's delete): delete it now, so it stops firing.
 * The schedule is then read again: if it was re-created under the same id meanwhile, the
 * delete may have removed its new EventBridge schedule, which is put back. A failure is only
 * logged; the next tick tries again.
 */
async function removeOrphanedTrigger(
  deps: DeliveryBatchDeps,
  scheduleId: string,
  tick: string,
): Promise<void> {
  const { schedules, trigger } = deps.schedules;
  try {
    if (await schedules.getSchedule(scheduleId)) return;
    await trigger.scheduleDeleted(scheduleId);
    const recreated = await schedules.getSchedule(scheduleId);
    if (recreated) {
      await trigger.scheduleChanged(recreated);
      return;
    }
    deps.logger.warn('deleted the trigger of a schedule that no longer exists', {
      scheduleId,
      tick,
    });
  } catch (error) {
    deps.logger.warn('could not delete the trigger of a schedule that no longer exists', {
      scheduleId,
      tick,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * What an entry carries, a message or a schedule's tick; undefined (logged, and the entry
 * dropped) when it is not ours.
 */
export function readQueueBody(logger: Logger, record: SQSRecord): DeliveryQueueBody | undefined {
  try {
    return parseDeliveryQueueBody(record.body);
  } catch (error) {
    if (!(error instanceof MalformedDeliveryMessageError)) throw error;
    logger.error('dropping a queue entry that is not a sqstash delivery message', {
      sqsMessageId: record.messageId,
      error: error.message,
    });
    return undefined;
  }
}
