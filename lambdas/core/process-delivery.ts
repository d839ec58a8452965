import type { Logger } from '../ports/logger';
import type { AttemptSettlement, DeliveryQueue, MessageStore } from '../ports/message-store';
import type { Telemetry } from '../ports/telemetry';
import type { DeliveryDeps } from './delivery';
import { attemptDelivery } from './delivery';
import type { Message } from './message';
import {
  afterWorkflowSettlement,
  completeWorkflowSettlement,
  prepareWorkflowDelivery,
  skippedSettlement,
} from './workflow/workflow-delivery';
import type { WorkflowDeps } from './workflow/workflow-runs';

export type ProcessDeliveryDeps = DeliveryDeps & {
  readonly store: MessageStore;
  readonly queue: DeliveryQueue;
  /** Told about every attempt that failed, with why and what follows. */
  readonly logger?: Logger;
  /** Told about every settled attempt. */
  readonly telemetry?: Telemetry;
  /** Upstash Workflow: frames a run's deliveries and applies the run to what they settle. */
  readonly workflow?: WorkflowDeps;
};

/**
 * One attempt end to end, the same in every runtime: deliver, queue the callbacks it created,
 * then persist what followed in one step. A crash before the settlement is stored leaves
 * the message due again, so the attempt is repeated (at-least-once), never lost.
 */
export async function processDelivery(
  deps: ProcessDeliveryDeps,
  message: Message,
  retried: number,
  signal?: AbortSignal,
): Promise<AttemptSettlement> {
  const { workflow } = deps;
  const prepared = workflow
    ? await prepareWorkflowDelivery(workflow, message)
    : { kind: 'deliver' as const, message };
  if (prepared.kind === 'skip') {
    return deps.store.settleAttempt(
      skippedSettlement(message, retried, deps.clock.now(), prepared.reason),
    );
  }
  const startedAt = performance.now();
  // Settled as the stored message, which a workflow delivery's framed body is not.
  let attempted: AttemptSettlement = {
    ...(await attemptDelivery(deps, prepared.message, retried, signal)),
    message,
  };
  const attemptMs = performance.now() - startedAt;
  if (workflow) attempted = await completeWorkflowSettlement(workflow, attempted);
  // Callbacks are queued before they are stored, as publishes are (see publishMessage): a
  // crash in between leaves a stray queue entry, never a stored callback nothing delivers. A
  // callback the store then drops (a cancel raced the attempt) is such a stray entry too.
  for (const callback of attempted.callbacks) {
    await deps.queue.enqueue(callback.messageId, callback.notBefore);
  }
  const settled = await deps.store.settleAttempt(attempted);
  if (deps.logger) logFailedAttempt(deps.logger, settled);
  if (deps.telemetry) reportAttempt(deps.telemetry, settled, attemptMs, deps.clock.now());
  if (workflow) await afterWorkflowSettlement(workflow, settled);
  return settled;
}

function reportAttempt(
  telemetry: Telemetry,
  { message, outcome }: AttemptSettlement,
  attemptMs: number,
  nowMs: number,
): void {
  telemetry.attemptSettled({
    outcome: outcome.kind,
    kind: message.callbackFor?.kind ?? 'message',
    attemptMs,
    ...(outcome.kind === 'delivered' && { publishToDeliveryMs: nowMs - message.createdAt }),
  });
}

/**
 * One line per failed attempt. It names the destination by origin only: a URL's path and query
 * may carry the receiver's own secrets, and the message id leads to the rest (`/v2/events`).
 */
function logFailedAttempt(logger: Logger, settlement: AttemptSettlement): void {
  const { message, retried, outcome } = settlement;
  if (outcome.kind !== 'retry' && outcome.kind !== 'failed') return;
  const error = settlement.events.find((event) => event.state === 'ERROR')?.error;
  const fields = {
    messageId: message.messageId,
    destination: originOf(message.url),
    retried,
    maxRetries: message.maxRetries,
    error,
  };
  if (outcome.kind === 'retry') {
    logger.warn('delivery attempt failed; will retry', {
      ...fields,
      nextDeliveryTime: outcome.retryAt,
    });
  } else {
    logger.warn('delivery attempt failed; message dead-lettered', {
      ...fields,
      dlqId: outcome.deadLetter.dlqId,
    });
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid URL';
  }
}
