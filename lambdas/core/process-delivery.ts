import type { Logger } from '../ports/logger';
import type { AttemptSettlement, MessageStore } from '../ports/message-store';
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
  readonly store: Pick<MessageStore, 'settleAttempt'>;
  /** Told about every attempt that failed, with why and what follows. */
  readonly logger?: Logger;
  /** Told about every settled attempt. */
  readonly telemetry?: Telemetry;
  /** Upstash Workflow: frames a run's deliveries and applies the run to what they settle. */
  readonly workflow?: WorkflowDeps;
};

/** A message taken for an attempt: its attempt number and the lease the runtime took it under. */
export type DeliveryAttempt = {
  readonly message: Message;
  /** `Upstash-Retried` of this attempt. */
  readonly retried: number;
  /** Opaque to the core; handed to the store with the settlement (AttemptSettlement.lease). */
  readonly lease?: string;
  /** When the runtime claimed it: the attempt's start, as its flow-control key counted it. */
  readonly claimedAt?: number;
};

/**
 * One attempt end to end, the same in every runtime: deliver, then persist what followed (and
 * the callbacks it created, which the store makes deliverable) in one step. A crash before the
 * settlement is stored leaves the message due again, so the attempt is repeated
 * (at-least-once), never lost. Resolves undefined when the store found the attempt settled
 * already (a stale lease): nothing changed.
 */
export async function processDelivery(
  deps: ProcessDeliveryDeps,
  attempt: DeliveryAttempt,
  signal?: AbortSignal,
): Promise<AttemptSettlement | undefined> {
  const { workflow } = deps;
  const { message, retried, lease, claimedAt } = attempt;
  const withLease = (settlement: AttemptSettlement): AttemptSettlement =>
    lease === undefined ? settlement : { ...settlement, lease };
  const prepared = workflow
    ? await prepareWorkflowDelivery(workflow, message)
    : { kind: 'deliver' as const, message };
  if (prepared.kind === 'skip') {
    return deps.store.settleAttempt(
      withLease(skippedSettlement(message, retried, deps.clock.now(), prepared.reason)),
    );
  }
  const startedAt = performance.now();
  // Settled as the stored message, which a workflow delivery's framed body is not.
  let attempted: AttemptSettlement = {
    ...(await attemptDelivery(deps, prepared.message, retried, signal, claimedAt)),
    message,
  };
  const attemptMs = performance.now() - startedAt;
  if (workflow) attempted = await completeWorkflowSettlement(workflow, attempted);
  const settled = await deps.store.settleAttempt(withLease(attempted));
  if (!settled) return undefined;
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
