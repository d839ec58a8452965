import type { AttemptSettlement } from '../../ports/message-store';
import type { AttemptReport } from '../callbacks';
import { buildCallbackMessage } from '../callbacks';
import type { Message } from '../message';
import { canceledEvent } from '../messages';
import type { PublishOptions } from '../publish-options';
import { parsePublishOptions } from '../publish-options';
import { workflowDeliveryHeaders } from './workflow-headers';
import { hasEnded, openRun, stepOf } from './workflow-publish';
import type { WorkflowRun, WorkflowTag } from './workflow-run';
import type { WorkflowDeps } from './workflow-runs';
import { rawSteps, recordRunFailure } from './workflow-runs';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array();

/** What to send for a message: the request as built from it, or nothing (its run has ended). */
export type PreparedDelivery =
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'skip'; readonly reason: string };

/**
 * Shapes the delivery of a run's message, before its attempt:
 * - a step is appended to its run's history on its first delivery, and carries the history up
 *   to and including itself (`[{messageId, body, callType}]`, the initial payload first), or,
 *   when the SDK offered `LazyFetch` and that is too long, an empty body the SDK fetches;
 * - the step that resolves a wait (a notify's, or the timeout) must win its waiter first;
 * - a `context.call` goes to the third party as published, its callback and the failure
 *   callback as built (not framed), each with the run's id;
 * - nothing is sent for a run that has ended (succeeded or been canceled).
 * Everything here is idempotent, so a repeated attempt is shaped exactly as the first.
 */
export async function prepareWorkflowDelivery(
  deps: WorkflowDeps,
  message: Message,
): Promise<PreparedDelivery> {
  const tag = message.workflow;
  if (!tag) return { kind: 'deliver', message };
  const runs = deps.workflowRuns;
  if (tag.callType === 'failureCall') {
    if (tag.dlqId !== undefined) {
      await recordRunFailure(deps, tag.runId, {
        dlqId: tag.dlqId,
        failureCallbackMessageId: message.messageId,
      });
    }
    return deliverWithRunHeaders(message);
  }
  const run =
    (await runs.getRun(tag.runId)) ??
    (tag.init || tag.resumedFrom ? await openRun(runs, message) : undefined);
  if (!run || hasEnded(run)) {
    return { kind: 'skip', reason: `workflow run "${tag.runId}" has ended` };
  }
  const waiterId = tag.waitTimeout ? message.messageId : tag.waiterId;
  if (
    waiterId !== undefined &&
    (await runs.claimWaiter(waiterId, message.messageId)) !== 'claimed'
  ) {
    return { kind: 'skip', reason: 'the wait was resolved by another message' };
  }
  const seq = await runs.appendStep(run.runId, stepOf(message));
  if (tag.callType === 'toCallback') return { kind: 'deliver', message };
  if (tag.callType === 'fromCallback') return deliverWithRunHeaders(message);
  const history = encoder.encode(JSON.stringify(rawSteps(await runs.listSteps(run.runId, seq))));
  const lazy = tag.lazyFetch === true && history.byteLength > deps.config.workflowInlineStepsBytes;
  return deliverWithRunHeaders({ ...message, body: lazy ? EMPTY : history });
}

function deliverWithRunHeaders(message: Message): PreparedDelivery {
  return { kind: 'deliver', message: { ...message, header: workflowDeliveryHeaders(message) } };
}

/** The settlement of a message that was not sent because its run had ended. */
export function skippedSettlement(
  message: Message,
  retried: number,
  nowMs: number,
  reason: string,
): AttemptSettlement {
  return {
    message,
    retried,
    outcome: { kind: 'canceled' },
    events: [{ ...canceledEvent(message, nowMs), error: reason }],
    callbacks: [],
  };
}

/**
 * Applies the run to the messages an attempt's settlement creates, before it is stored:
 * - the callback of a `context.call` is a message of the run, configured by the run (its
 *   retries, retry delay, failure callback and labels; the call's own were the call's);
 * - a failure callback is the run's (asRunFailureCallback);
 * - a call that failed without ever getting a response (so no callback will continue the run)
 *   fails the run: its failure callback is fired.
 */
export async function completeWorkflowSettlement(
  deps: WorkflowDeps,
  settlement: AttemptSettlement,
): Promise<AttemptSettlement> {
  const { message, outcome } = settlement;
  const tag = message.workflow;
  if (!tag || tag.callType === 'failureCall') return settlement;
  const unansweredCall =
    tag.callType === 'toCallback' &&
    outcome.kind === 'failed' &&
    !settlement.callbacks.some((callback) => callback.callbackFor?.kind === 'callback');
  if (settlement.callbacks.length === 0 && !unansweredCall) return settlement;
  const run = await deps.workflowRuns.getRun(tag.runId);
  if (!run) return settlement;
  const options = runOptions(deps, run);
  const initialPayload = await initialPayloadOf(deps, run);
  const dlqId = outcome.kind === 'failed' ? outcome.deadLetter.dlqId : undefined;
  const callbacks = settlement.callbacks.map((callback) => {
    if (callback.callbackFor?.kind === 'failure-callback') {
      return asRunFailureCallback(run, callback, initialPayload, dlqId);
    }
    if (tag.callType !== 'toCallback') return callback;
    return {
      ...callback,
      maxRetries: message.callback?.retries ?? options.maxRetries,
      retryDelayExpression: message.callback?.retryDelayExpression ?? options.retryDelayExpression,
      failureCallback: options.failureCallback,
      labels: run.labels,
      workflow: runTag(run, 'fromCallback'),
    };
  });
  if (unansweredCall && outcome.kind === 'failed' && options.failureCallback) {
    const { deadLetter } = outcome;
    const report: AttemptReport = {
      status: deadLetter.responseStatus,
      header: deadLetter.responseHeader,
      body: deadLetter.responseBody,
      retried: settlement.retried,
      dlqId: deadLetter.dlqId,
      ...(deadLetter.error !== undefined && { error: deadLetter.error }),
    };
    const built = buildCallbackMessage(
      options.failureCallback,
      'failure-callback',
      message,
      report,
      deps.ids,
      deadLetter.failedAt,
      deps.config.maxTimeoutMs,
    );
    callbacks.push(
      asRunFailureCallback(run, { ...built, labels: run.labels }, initialPayload, dlqId),
    );
  }
  return { ...settlement, callbacks };
}

function runTag(run: WorkflowRun, callType: WorkflowTag['callType']): WorkflowTag {
  return { runId: run.runId, url: run.url, createdAt: run.createdAt, callType };
}

export async function initialPayloadOf(
  deps: WorkflowDeps,
  run: WorkflowRun,
): Promise<Uint8Array | undefined> {
  return (await deps.workflowRuns.listSteps(run.runId, 0))[0]?.body;
}

/**
 * A failure callback as a message of the run: its payload carries `workflowRunId`,
 * `workflowCreatedAt` and `workflowUrl`, and the run's initial payload as `sourceBody` (which
 * the SDK hands the failure function as `context.requestPayload`).
 */
export function asRunFailureCallback(
  run: WorkflowRun,
  callback: Message,
  initialPayload: Uint8Array | undefined,
  dlqId: string | undefined,
): Message {
  return {
    ...callback,
    body: withRunFields(callback.body, run, initialPayload),
    workflow: { ...runTag(run, 'failureCall'), ...(dlqId !== undefined && { dlqId }) },
  };
}

/**
 * After a run's message settled: the callbacks it created join the run (a cancel cancels
 * them), and a message that failed into the DLQ fails the run, unless it was a call whose
 * callback carries the run on (the SDK hands the workflow the failed response).
 */
export async function afterWorkflowSettlement(
  deps: WorkflowDeps,
  settlement: AttemptSettlement,
): Promise<void> {
  const { message, outcome } = settlement;
  const tag = message.workflow;
  if (!tag) return;
  for (const callback of settlement.callbacks) {
    if (callback.workflow) {
      await deps.workflowRuns.addMessage(tag.runId, callback.messageId, callback.createdAt);
    }
  }
  if (outcome.kind !== 'failed' || tag.callType === 'failureCall') return;
  const continued =
    tag.callType === 'toCallback' &&
    settlement.callbacks.some((callback) => callback.callbackFor?.kind === 'callback');
  if (continued) return;
  const failureCallback = settlement.callbacks.find(
    (callback) => callback.callbackFor?.kind === 'failure-callback',
  );
  await recordRunFailure(deps, tag.runId, {
    dlqId: outcome.deadLetter.dlqId,
    ...(failureCallback && { failureCallbackMessageId: failureCallback.messageId }),
  });
}

/**
 * The run's configuration as publish options. It was valid when the run was triggered; should
 * the operator's limits have changed since, the defaults stand in rather than failing the run.
 */
export function runOptions(deps: WorkflowDeps, run: WorkflowRun): PublishOptions {
  try {
    return parsePublishOptions(run.configHeaders, deps.config);
  } catch {
    return parsePublishOptions({}, deps.config);
  }
}

/** A failure callback's payload with the run's fields added (qstash-api.md §5.2). */
function withRunFields(
  body: Uint8Array,
  run: WorkflowRun,
  initialPayload: Uint8Array | undefined,
): Uint8Array {
  const payload = JSON.parse(decoder.decode(body)) as Record<string, unknown>;
  return encoder.encode(
    JSON.stringify({
      ...payload,
      ...(initialPayload && { sourceBody: Buffer.from(initialPayload).toString('base64') }),
      workflowRunId: run.runId,
      workflowCreatedAt: run.createdAt,
      workflowUrl: run.url,
    }),
  );
}
