import type { DeadLetterEntry } from '../../ports/dead-letter-store';
import type { WorkflowRunFilter } from '../../ports/workflow-run-store';
import { buildCallbackMessage } from '../callbacks';
import type { RetryOverrides } from '../dead-letters';
import { parseRetryOverrides, retryMessage } from '../dead-letters';
import { BadRequestError, NotFoundError } from '../errors';
import type { IncomingHeaders } from '../headers';
import type { Message } from '../message';
import { parsePublishOptions } from '../publish-options';
import { asRunFailureCallback, initialPayloadOf } from './workflow-delivery';
import { runConfigHeaders } from './workflow-headers';
import type { FailureCallbackState, WorkflowLogDeps } from './workflow-logs';
import { failureCallbackState } from './workflow-logs';
import { openRun } from './workflow-publish';
import type { WorkflowRun, WorkflowTag } from './workflow-run';

/**
 * The workflow DLQ (`/v2/dlq?source=workflow`, `/v2/workflows/dlq/*`): one entry per failed
 * run, the dead letter of the message it failed on. Resume and restart each start a new run
 * (new id) and take the entry out of the DLQ in the same step, as a DLQ retry does.
 */

/** Which entries a DLQ action selects: by dlqId, or the failed runs a filter selects. */
export type WorkflowDlqSelection =
  | { readonly dlqIds: readonly string[] }
  | {
      readonly filter: WorkflowRunFilter;
      readonly failureFunctionStates?: readonly string[];
      readonly count: number;
      readonly cursor?: string;
    };

/** A workflow dead letter with its run and the failure function's state. */
export type WorkflowDeadLetter = DeadLetterEntry & {
  readonly run?: WorkflowRun;
  readonly failureCallbackState?: FailureCallbackState;
};

/** A run started by a resume or restart (the SDK's `DLQResumeRestartResponse`). */
export type StartedRun = { workflowRunId: string; workflowCreatedAt: number };

function notWorkflowEntries(dlqIds: readonly string[]): NotFoundError {
  return new NotFoundError(
    `${dlqIds.map((id) => `"${id}"`).join(', ')} not found in the workflow DLQ: never there, deleted, resumed or restarted`,
  );
}

/** The selected workflow dead letters; with dlqIds, each must be one (404 otherwise). */
export async function selectWorkflowDeadLetters(
  deps: WorkflowLogDeps,
  selection: WorkflowDlqSelection,
): Promise<{ entries: WorkflowDeadLetter[]; cursor?: string }> {
  if ('dlqIds' in selection) {
    const wanted = [...new Set(selection.dlqIds)];
    const entries: WorkflowDeadLetter[] = [];
    for (const dlqId of wanted) {
      const entry = await deps.deadLetters.getDeadLetter(dlqId);
      if (entry?.message.workflow) entries.push(await withRun(deps, entry));
    }
    const missing = wanted.filter((id) => !entries.some((e) => e.deadLetter.dlqId === id));
    if (missing.length > 0) throw notWorkflowEntries(missing);
    return { entries };
  }
  const page = await deps.workflowRuns.listRuns({
    filter: { ...selection.filter, failed: true },
    count: selection.count,
    ...(selection.cursor !== undefined && { cursor: selection.cursor }),
  });
  const entries: WorkflowDeadLetter[] = [];
  for (const run of page.items) {
    const entry = await deps.deadLetters.getDeadLetter(run.dlqId!);
    if (!entry) continue; // resumed, restarted or deleted since
    const withState = await withRun(deps, entry, run);
    const states = selection.failureFunctionStates;
    if (states && !states.includes(withState.failureCallbackState ?? '')) continue;
    entries.push(withState);
  }
  return { entries, ...(page.cursor !== undefined && { cursor: page.cursor }) };
}

async function withRun(
  deps: WorkflowLogDeps,
  entry: DeadLetterEntry,
  known?: WorkflowRun,
): Promise<WorkflowDeadLetter> {
  const run = known ?? (await deps.workflowRuns.getRun(entry.message.workflow!.runId));
  const callbackId = run?.failureCallbackMessageId;
  if (!run || callbackId === undefined) return { ...entry, ...(run && { run }) };
  const events = await deps.events.listEvents({
    filter: { messageIds: [callbackId] },
    count: 1000,
    order: 'earliestFirst',
  });
  return { ...entry, run, failureCallbackState: failureCallbackState(events.items) };
}

/**
 * `POST /v2/workflows/dlq/resume`: each selected run continues in a new run, which keeps the
 * steps before the failed message, from a copy of the failed message. The request's
 * `Upstash-Retries` (and other publish headers) override the run's configuration, and
 * `Upstash-Workflow-RunId` names the new run when one entry is resumed.
 */
export async function resumeRuns(
  deps: WorkflowLogDeps,
  selection: WorkflowDlqSelection,
  headers: IncomingHeaders,
): Promise<{ workflowRuns: StartedRun[]; cursor?: string }> {
  return startRuns(deps, selection, headers, async (entry, overrides, runId, now) => {
    const failed = entry.message;
    const tag = failed.workflow!;
    const seq = (await deps.workflowRuns.listSteps(tag.runId)).find(
      (step) => step.messageId === failed.messageId,
    )?.seq;
    const { waiterId: _waiterId, waitTimeout: _waitTimeout, ...kept } = tag;
    const config = runConfigHeaders(overrides.headers);
    const workflow: WorkflowTag =
      tag.init || seq === undefined
        ? { ...kept, runId, createdAt: now, init: true, config: { ...tag.config, ...config } }
        : {
            ...kept,
            runId,
            createdAt: now,
            resumedFrom: { runId: tag.runId, beforeSeq: seq },
            config,
          };
    return {
      ...retryMessage(failed, overrides, deps.ids.messageId(), now, now),
      workflow,
    };
  });
}

/**
 * `POST /v2/workflows/dlq/restart`: each selected run starts again from the beginning in a new
 * run, with its initial payload and configuration (overridden as for resume).
 */
export async function restartRuns(
  deps: WorkflowLogDeps,
  selection: WorkflowDlqSelection,
  headers: IncomingHeaders,
): Promise<{ workflowRuns: StartedRun[]; cursor?: string }> {
  return startRuns(deps, selection, headers, async (entry, overrides, runId, now) => {
    const run = entry.run;
    if (!run) throw notWorkflowEntries([entry.deadLetter.dlqId]);
    const initialPayload = (await initialPayloadOf(deps, run)) ?? new Uint8Array();
    const configHeaders = { ...run.configHeaders, ...runConfigHeaders(overrides.headers) };
    const options = parsePublishOptions(configHeaders, deps.config);
    return {
      messageId: deps.ids.messageId(),
      url: run.url,
      method: 'POST',
      header: run.triggerHeader,
      body: initialPayload,
      maxRetries: options.maxRetries,
      ...(options.retryDelayExpression !== undefined && {
        retryDelayExpression: options.retryDelayExpression,
      }),
      timeoutMs: options.timeoutMs,
      notBefore: now,
      createdAt: now,
      ...(options.failureCallback && { failureCallback: options.failureCallback }),
      labels: options.labels,
      ...(run.callerIp !== undefined && { callerIp: run.callerIp }),
      workflow: {
        runId,
        url: run.url,
        createdAt: now,
        callType: 'step',
        init: true,
        lazyFetch: entry.message.workflow?.lazyFetch ?? true,
        config: configHeaders,
        ...(run.invoker && { invoker: run.invoker }),
      },
    };
  });
}

type NewRunMessage = (
  entry: WorkflowDeadLetter,
  overrides: RetryOverrides,
  runId: string,
  nowMs: number,
) => Promise<Message>;

async function startRuns(
  deps: WorkflowLogDeps,
  selection: WorkflowDlqSelection,
  headers: IncomingHeaders,
  newRunMessage: NewRunMessage,
): Promise<{ workflowRuns: StartedRun[]; cursor?: string }> {
  const { 'upstash-workflow-runid': namedRunId, ...rest } = headers;
  const overrides = parseRetryOverrides(rest, deps.config);
  const { entries, cursor } = await selectWorkflowDeadLetters(deps, selection);
  if (namedRunId !== undefined && entries.length > 1) {
    throw new BadRequestError('Upstash-Workflow-RunId names one run: resume or restart one entry');
  }
  const notRuns = entries.filter((entry) => entry.message.workflow?.callType === 'failureCall');
  if (notRuns.length > 0) {
    throw new BadRequestError(
      `${notRuns.map((entry) => `"${entry.deadLetter.dlqId}"`).join(', ')}: a failed failure callback is not a run to resume or restart; retry it with /v2/workflows/dlq/callback/{dlqId} of its run`,
    );
  }
  const now = deps.clock.now();
  const replacements: { dlqId: string; message: Message }[] = [];
  for (const entry of entries) {
    const runId = namedRunId?.trim() || `wfr_${deps.ids.messageId().slice('msg_'.length)}`;
    replacements.push({
      dlqId: entry.deadLetter.dlqId,
      message: await newRunMessage(entry, overrides, runId, now),
    });
  }
  // The new run's first message replaces the dead letter atomically; the run itself is
  // opened from that message (now, and again at its first delivery if a crash intervenes).
  const { missing } = await deps.deadLetters.replaceWithMessages(replacements, now);
  if (missing.length > 0) throw notWorkflowEntries(missing);
  for (const { message } of replacements) await openRun(deps.workflowRuns, message);
  return {
    workflowRuns: replacements.map(({ message }) => ({
      workflowRunId: message.workflow!.runId,
      workflowCreatedAt: now,
    })),
    ...(cursor !== undefined && { cursor }),
  };
}

/**
 * `POST /v2/workflows/dlq/callback/{dlqId}`: calls the failure function of a failed run again
 * (after it failed itself); the run stays in the DLQ.
 */
export async function retryFailureCallback(
  deps: WorkflowLogDeps,
  dlqId: string,
): Promise<StartedRun> {
  const { entries } = await selectWorkflowDeadLetters(deps, { dlqIds: [dlqId] });
  const { message, deadLetter, run } = entries[0]!;
  if (!message.failureCallback || !run) {
    throw new BadRequestError(`dead letter "${dlqId}" has no failure callback to retry`);
  }
  const now = deps.clock.now();
  const built = buildCallbackMessage(
    message.failureCallback,
    'failure-callback',
    message,
    {
      status: deadLetter.responseStatus,
      header: deadLetter.responseHeader,
      body: deadLetter.responseBody,
      retried: message.maxRetries,
      dlqId,
      ...(deadLetter.error !== undefined && { error: deadLetter.error }),
    },
    deps.ids,
    now,
    deps.config.maxTimeoutMs,
  );
  const callback = asRunFailureCallback(run, built, await initialPayloadOf(deps, run), dlqId);
  await deps.store.insertMessage(callback, undefined, now);
  await deps.workflowRuns.addMessage(run.runId, callback.messageId, now);
  await deps.workflowRuns.markRunFailed(run.runId, {
    dlqId,
    failureCallbackMessageId: callback.messageId,
    at: now,
  });
  return { workflowRunId: run.runId, workflowCreatedAt: run.createdAt };
}

/** `DELETE /v2/workflows/dlq`: deletes the selected workflow dead letters. */
export async function deleteWorkflowDeadLetters(
  deps: WorkflowLogDeps,
  selection: WorkflowDlqSelection,
): Promise<{ deleted: number; cursor?: string }> {
  const { entries, cursor } = await selectWorkflowDeadLetters(deps, selection);
  if (entries.length === 0) return { deleted: 0, ...(cursor !== undefined && { cursor }) };
  const dlqIds = entries.map((entry) => entry.deadLetter.dlqId);
  const { deleted } = await deps.deadLetters.deleteDeadLetters({
    filter: { dlqIds },
    count: dlqIds.length,
    order: 'latestFirst',
  });
  return { deleted, ...(cursor !== undefined && { cursor }) };
}
