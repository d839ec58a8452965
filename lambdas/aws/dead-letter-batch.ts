import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DynamoMessageStore } from '../adapters/aws/dynamo-message-store';
import type { QueueEntry } from '../adapters/aws/sqs-entries';
import { encodeEntry } from '../adapters/aws/sqs-entries';
import type { SqsSender } from '../adapters/aws/sqs-sender';
import type { DeliveryDeps } from '../core/delivery';
import { abandonDelivery } from '../core/delivery';
import {
  afterWorkflowSettlement,
  completeWorkflowSettlement,
} from '../core/workflow/workflow-delivery';
import type { WorkflowDeps } from '../core/workflow/workflow-runs';
import type { Logger } from '../ports/logger';
import { readEntry } from './delivery-batch';

export type DeadLetterBatchDeps = {
  readonly delivery: Pick<DeliveryDeps, 'clock' | 'ids' | 'config'>;
  readonly store: DynamoMessageStore;
  readonly sender: SqsSender;
  readonly logger: Logger;
  /** Upstash Workflow: a run whose step is given up fails, and its failure function is told. */
  readonly workflow?: WorkflowDeps;
  readonly onFailed?: () => void;
  /** Counts an entry this function could not handle, or had to drop (the DLQ alarm watches it). */
  readonly onItemFailure?: () => void;
};

/**
 * Times an entry goes back in line before its message is given up, and how long it waits each
 * time: about 20 minutes more, for throttling or an outage of DynamoDB to pass.
 */
const REDRIVE_DELAYS_MS = [60_000, 300_000, 900_000];

/**
 * Consumes the SQS dead-letter queue, where SQS moves an entry received `maxReceiveCount` times
 * without being deleted: the delivery function crashed, timed out, was throttled or kept
 * faulting on it. Throttling and outages pass, so the entry first goes back to the delivery
 * queue, after a delay, a few times (REDRIVE_DELAYS_MS). Only then is its message given up: it
 * is dead-lettered with the reason and its failure callback fires, as after exhausted retries;
 * a wake, pump or tick entry is dropped with an error (the schedule goes on with its next tick,
 * the reconcile pass pumps queues).
 *
 * Every entry this function cannot handle, or drops, is counted (`DeadLetterFailures`), which
 * the DLQ alarm watches.
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
  const entry = readEntry(deps.logger, record);
  if (entry === undefined) {
    deps.onItemFailure?.();
    return undefined;
  }
  try {
    const redrives = 'redrives' in entry ? (entry.redrives ?? 0) : 0;
    if (
      entry.kind !== 'tick' &&
      entry.kind !== 'reconcile' &&
      redrives < REDRIVE_DELAYS_MS.length
    ) {
      await putBack(deps, entry, redrives);
      return undefined;
    }
    if (entry.kind === 'attempt') {
      await abandon(deps, entry, record);
      return undefined;
    }
    deps.onItemFailure?.();
    deps.logger.error('dropped a delivery-queue entry that kept failing', {
      kind: entry.kind,
      ...(entry.kind === 'tick' && {
        scheduleId: entry.scheduleId,
        tick: new Date(entry.tickTime).toISOString(),
      }),
      ...(entry.kind === 'wake' && { messageId: entry.messageId }),
      ...(entry.kind === 'pump' && { queue: entry.queue }),
      ...(entry.kind === 'flow' && { flowControlKey: entry.key }),
      receives: record.attributes.ApproximateReceiveCount,
    });
    return undefined;
  } catch (error) {
    deps.onItemFailure?.();
    deps.logger.error('could not process a dead-letter entry; it will be retried', {
      sqsMessageId: record.messageId,
      error: error instanceof Error ? error.message : String(error),
    });
    return { itemIdentifier: record.messageId };
  }
}

/** Sends the entry back to the delivery queue, counting the time. */
async function putBack(
  deps: DeadLetterBatchDeps,
  entry: QueueEntry,
  redrives: number,
): Promise<void> {
  const delayMs = REDRIVE_DELAYS_MS[redrives]!;
  await deps.sender.send([
    {
      body: encodeEntry({ ...entry, redrives: redrives + 1 } as QueueEntry),
      dueAt: deps.delivery.clock.now() + delayMs,
      about:
        entry.kind === 'attempt' || entry.kind === 'wake'
          ? `message ${entry.messageId}`
          : entry.kind,
    },
  ]);
  deps.logger.warn('put a delivery-queue entry that kept failing back in line', {
    kind: entry.kind,
    ...(entry.kind === 'attempt' && { messageId: entry.messageId, retried: entry.retried }),
    redrives: redrives + 1,
    retryInSeconds: delayMs / 1000,
  });
}

/** Dead-letters the message of an entry that kept failing, with the reason. */
async function abandon(
  deps: DeadLetterBatchDeps,
  entry: Extract<QueueEntry, { kind: 'attempt' }>,
  record: SQSRecord,
): Promise<void> {
  // Asked as a redelivered entry: its message may have been settled or canceled meanwhile.
  const decision = await deps.store.prepareAttempt(
    entry,
    Number.MAX_SAFE_INTEGER,
    record.messageId,
  );
  if (decision.kind === 'drop') return;
  if (decision.kind === 'postpone' && decision.reason !== 'not due yet') {
    throw new Error(`cannot give up ${entry.messageId} yet: ${decision.reason}`);
  }
  const message = decision.kind === 'attempt' ? decision.message : entry.message;
  if (!message) throw new Error(`the message of ${entry.messageId} is not readable`);
  const rounds = REDRIVE_DELAYS_MS.length + 1;
  let settlement = abandonDelivery(
    deps.delivery,
    message,
    entry.retried,
    `delivery did not complete after ${rounds} rounds of receives (the function crashed, timed out, was throttled or kept failing)`,
  );
  if (deps.workflow) settlement = await completeWorkflowSettlement(deps.workflow, settlement);
  const applied = await deps.store.settleAttempt(
    decision.kind === 'attempt' ? { ...settlement, lease: decision.lease } : settlement,
  );
  if (!applied) return;
  if (deps.workflow) await afterWorkflowSettlement(deps.workflow, applied);
  deps.onFailed?.();
  deps.logger.warn('dead-lettered a message SQS gave up on', {
    messageId: entry.messageId,
    receives: record.attributes.ApproximateReceiveCount,
  });
}
