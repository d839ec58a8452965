import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  MalformedDeliveryMessageError,
  parseDeliveryMessageBody,
} from '../adapters/aws/delivery-message-body';
import type { ProcessDeliveryDeps } from '../core/process-delivery';
import { processDelivery } from '../core/process-delivery';
import type { DeliveryLedger } from '../ports/delivery-ledger';
import type { Logger } from '../ports/logger';

/** Makes a received SQS message visible again after `delaySec` (ChangeMessageVisibility). */
export type Postpone = (receiptHandle: string, delaySec: number) => Promise<void>;

export type DeliveryOutcomeKind = 'delivered' | 'retry' | 'failed' | 'canceled';

export type DeliveryBatchDeps = {
  readonly delivery: ProcessDeliveryDeps;
  readonly ledger: DeliveryLedger;
  readonly postpone: Postpone;
  readonly logger: Logger;
  /** How long a claim is held: longer than any attempt, shorter than the queue's visibility timeout. */
  readonly leaseMs: number;
  readonly onOutcome?: (kind: DeliveryOutcomeKind) => void;
};

const SECOND_MS = 1000;
/** SQS keeps a message invisible for at most 12 h per receive (aws-facts.md §1). */
const MAX_VISIBILITY_SEC = 12 * 60 * 60 - 60;
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
  const messageId = readMessageId(deps.logger, record);
  if (messageId === undefined) return undefined;
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

/** The message id an entry names; undefined (logged, and the entry dropped) when it is not ours. */
export function readMessageId(logger: Logger, record: SQSRecord): string | undefined {
  try {
    return parseDeliveryMessageBody(record.body);
  } catch (error) {
    if (!(error instanceof MalformedDeliveryMessageError)) throw error;
    logger.error('dropping a queue entry that is not a sqstash delivery message', {
      sqsMessageId: record.messageId,
      error: error.message,
    });
    return undefined;
  }
}
