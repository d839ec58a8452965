import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DynamoFlowControl } from '../adapters/aws/dynamo-flow-control';
import type { DynamoMessageStore } from '../adapters/aws/dynamo-message-store';
import type { MessageRouter } from '../adapters/aws/message-router';
import type { QueueEntry } from '../adapters/aws/sqs-entries';
import { decodeEntry, MalformedEntryError } from '../adapters/aws/sqs-entries';
import type { SqsSender } from '../adapters/aws/sqs-sender';
import type { DeliveryDeps } from '../core/delivery';
import type { ProcessDeliveryDeps } from '../core/process-delivery';
import { processDelivery } from '../core/process-delivery';
import type { ScheduleDeps, TickOutcome } from '../core/schedules';
import { fireSchedule } from '../core/schedules';
import type { Logger } from '../ports/logger';
import { SettlementBatch } from './settlement-batch';

export type DeliveryBatchDeps = {
  /** What an attempt needs: the telemetry that counts its outcome, workflow runs' registry. */
  readonly delivery: DeliveryDeps & Pick<ProcessDeliveryDeps, 'telemetry' | 'workflow'>;
  readonly store: DynamoMessageStore;
  readonly router: MessageRouter;
  readonly flowControl: DynamoFlowControl;
  readonly sender: SqsSender;
  /** What a schedule's tick needs to publish its message. */
  readonly schedules: ScheduleDeps;
  /** The reconcile pass (reconcile.ts), for the stack's reconcile schedule's entries. */
  readonly reconcile: (by: string) => Promise<void>;
  readonly logger: Logger;
  /** How long a settlement waits for the batch's others (SettlementBatch). @default 100 */
  readonly lingerMs?: number;
};

const SECOND_MS = 1000;
const DEFAULT_LINGER_MS = 100;
/** A transient fault (a throttled call, a service error) is tried again after 1, 2, 4 ... 30 s. */
const MAX_BACKOFF_SEC = 30;
/** SQS keeps an entry invisible for at most 12 hours from its receive. */
const MAX_VISIBILITY_SEC = 11 * 60 * 60;

/**
 * The AWS delivery function's work for one SQS batch (entries: sqs-entries.ts). An attempt
 * entry carries its message: the store says whether it may be attempted (the usual first
 * attempt needs no read), the core attempts it, and its settlement, batched with the others of
 * the invocation, sends what follows (a retry is a new entry, delayed) and commits. The entry
 * is then deleted. Wake, pump, flow, tick and reconcile entries start recorded messages, FIFO
 * queues' next messages, flow-control keys' waiting attempts, schedules' ticks and the
 * reconcile pass.
 *
 * A fault before the settlement commits (a throttled DynamoDB call, say) leaves the entry to
 * come back in seconds (a short ChangeMessageVisibility), not after the visibility timeout; it
 * is attempted again, at least once in all. An entry that faults this way `maxReceiveCount`
 * times goes to the dead-letter queue, whose function puts it back in line a few times before
 * it gives the message up.
 */
export async function handleDeliveryBatch(
  deps: DeliveryBatchDeps,
  event: SQSEvent,
): Promise<SQSBatchResponse> {
  const settlements = new SettlementBatch(deps.store, deps.lingerMs ?? DEFAULT_LINGER_MS);
  const failures = await Promise.all(
    event.Records.map((record) => handleRecord(deps, settlements, record)),
  );
  return { batchItemFailures: failures.filter((failure) => failure !== undefined) };
}

/** Resolves a batch item failure to keep the SQS entry, or undefined to let Lambda delete it. */
async function handleRecord(
  deps: DeliveryBatchDeps,
  settlements: SettlementBatch,
  record: SQSRecord,
): Promise<SQSBatchItemFailure | undefined> {
  const entry = readEntry(deps.logger, record);
  if (entry === undefined) return undefined;
  const receives = Number(record.attributes.ApproximateReceiveCount);
  try {
    switch (entry.kind) {
      case 'tick':
        return await handleTick(deps, record, entry.scheduleId, entry.tickTime);
      case 'reconcile':
        await deps.reconcile(record.messageId);
        return undefined;
      case 'pump':
        await deps.router.pump(entry.queue, record.messageId);
        return undefined;
      case 'flow':
        await deps.flowControl.pump(entry.key, record.messageId);
        return undefined;
      case 'wake':
        await deps.router.wake(entry.messageId, entry.sentBy, record.messageId);
        return undefined;
      case 'attempt': {
        const decision = await deps.store.prepareAttempt(entry, receives, record.messageId);
        if (decision.kind === 'drop') {
          deps.logger.debug('dropped an attempt entry', {
            messageId: entry.messageId,
            retried: entry.retried,
            reason: decision.reason,
          });
          return undefined;
        }
        if (decision.kind === 'postpone') {
          return await postpone(deps, record, Math.ceil(decision.delayMs / SECOND_MS));
        }
        settlements.begin();
        try {
          await processDelivery(
            { ...deps.delivery, store: settlements, logger: deps.logger },
            decision,
          );
        } catch (error) {
          settlements.abandon();
          throw error;
        }
        return undefined;
      }
    }
  } catch (error) {
    const delaySec = Math.min(2 ** Math.max(receives - 1, 0), MAX_BACKOFF_SEC);
    deps.logger.error('could not handle a delivery-queue entry; it comes back shortly', {
      ...(entry.kind === 'attempt' && { messageId: entry.messageId, retried: entry.retried }),
      kind: entry.kind,
      receives,
      retryInSeconds: delaySec,
      error: error instanceof Error ? error.message : String(error),
    });
    try {
      return await postpone(deps, record, delaySec);
    } catch {
      // Left to the visibility timeout.
      return { itemIdentifier: record.messageId };
    }
  }
}

/** Keeps the entry, visible again after `delaySec`. */
async function postpone(
  deps: DeliveryBatchDeps,
  record: SQSRecord,
  delaySec: number,
): Promise<SQSBatchItemFailure> {
  await deps.sender.postpone(
    record.receiptHandle,
    Math.min(Math.max(delaySec, 0), MAX_VISIBILITY_SEC),
  );
  return { itemIdentifier: record.messageId };
}

/**
 * Fires a schedule's tick. A thrown error (a store fault) is a transient fault as above; the
 * tick's idempotency makes firing it again safe.
 */
async function handleTick(
  deps: DeliveryBatchDeps,
  record: SQSRecord,
  scheduleId: string,
  tickTime: number,
): Promise<SQSBatchItemFailure | undefined> {
  const outcome: TickOutcome = await fireSchedule(deps.schedules, scheduleId, tickTime);
  if (outcome === 'skipped') await removeOrphanedTrigger(deps, scheduleId, record, tickTime);
  return undefined;
}

/**
 * A tick of a schedule that no longer exists means its EventBridge schedule outlived it (the
 * delete's DeleteSchedule failed after the store's delete): delete it now, so it stops firing.
 * The schedule is then read again: if it was re-created under the same id meanwhile, the
 * delete may have removed its new EventBridge schedule, which is put back. A failure is only
 * logged; the next tick, or the reconcile pass, tries again.
 */
async function removeOrphanedTrigger(
  deps: DeliveryBatchDeps,
  scheduleId: string,
  record: SQSRecord,
  tickTime: number,
): Promise<void> {
  const { schedules, trigger } = deps.schedules;
  const tick = new Date(tickTime).toISOString();
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
      sqsMessageId: record.messageId,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** What an entry is; undefined (logged, and the entry dropped) when it is not ours. */
export function readEntry(logger: Logger, record: SQSRecord): QueueEntry | undefined {
  try {
    return decodeEntry(record.body);
  } catch (error) {
    if (!(error instanceof MalformedEntryError)) throw error;
    logger.error('dropping a queue entry that is not a sqstash entry', {
      sqsMessageId: record.messageId,
      error: error.message,
    });
    return undefined;
  }
}
