import type { NewWorkflowStep, WorkflowRunStore } from '../../ports/workflow-run-store';
import { BadRequestError, NotImplementedError, WorkflowRunEndedError } from '../errors';
import { isPlainObject } from '../json-values';
import type { Message } from '../message';
import type { PublishRequest } from '../publish';
import { publishHeadersOf, readWorkflowHeaders, runConfigHeaders } from './workflow-headers';
import type { WorkflowInvoker, WorkflowRun, WorkflowTag } from './workflow-run';

const encoder = new TextEncoder();

/** A publish of a run's message, as the run's registry shapes it (see prepareWorkflowPublish). */
export type WorkflowPublish = {
  /** The request to publish: headers under the run's configuration, an invoke's body unwrapped. */
  readonly request: PublishRequest;
  readonly tag: WorkflowTag;
  /** For a trigger: the run id, so a run is started once however often it is triggered. */
  readonly dedupKey?: string;
};

/** The message of a run whose delivery resolves a wait (core/workflow/workflow-waits.ts). */
export type WaitResolution = { readonly waiterId: string } | { readonly timeout: true };

/**
 * Reads a publish's `Upstash-Workflow-*` headers. A trigger (`Upstash-Workflow-Init: true`) gets
 * a dedup key on its run id and carries the run's configuration; a later message is refused when
 * its run has ended (the SDK's "run is over" 400) and gets the run's configuration under its own
 * headers, since in Workflow 1.x only the trigger sends retries, the failure callback, labels and
 * forwarded headers. A `context.call` to a third party gets none of it (its own retries are
 * the call's; the run's apply to its callback). Undefined for a publish that is not a run's.
 */
export async function prepareWorkflowPublish(
  runs: WorkflowRunStore | undefined,
  request: PublishRequest,
  nowMs: number,
): Promise<WorkflowPublish | undefined> {
  const workflow = readWorkflowHeaders(request.headers);
  if (!workflow) return undefined;
  if (!runs) {
    throw new NotImplementedError('Upstash Workflow is not available on this runtime yet');
  }
  const headers = forwardContentTypeOnce(request.headers);
  const resolution = request.resolvesWait;
  const waitFields: Pick<WorkflowTag, 'waiterId' | 'waitTimeout'> | undefined =
    resolution && ('timeout' in resolution ? { waitTimeout: true } : resolution);
  if (workflow.init) {
    const invoke = workflow.invoke ? readInvokeRequest(request.body) : undefined;
    const tag: WorkflowTag = {
      runId: workflow.runId,
      url: workflow.url ?? request.rawDestination,
      createdAt: nowMs,
      callType: 'step',
      init: true,
      lazyFetch: workflow.lazyFetch,
      config: runConfigHeaders(headers),
      ...(invoke && { invoker: invoke.invoker }),
    };
    return {
      request: { ...request, headers, ...(invoke && { body: invoke.body }) },
      tag,
      dedupKey: `workflow-run:${workflow.runId}`,
    };
  }
  const run = await runs.getRun(workflow.runId);
  assertRunAcceptsSteps(workflow.runId, run);
  const configured =
    workflow.callType === 'toCallback' ? headers : { ...run.configHeaders, ...headers };
  return {
    request: { ...request, headers: configured },
    tag: {
      runId: run.runId,
      url: run.url,
      createdAt: run.createdAt,
      callType: workflow.callType,
      lazyFetch: workflow.lazyFetch,
      ...waitFields,
    },
  };
}

/** Throws the SDK's "run is over" 400 unless the run exists and has not ended. */
export function assertRunAcceptsSteps(
  runId: string,
  run: WorkflowRun | undefined,
): asserts run is WorkflowRun {
  if (!run) throw new WorkflowRunEndedError(`workflow run "${runId}" does not exist`);
  if (hasEnded(run)) {
    throw new WorkflowRunEndedError(
      `workflow run "${runId}" has ${run.state === 'RUN_CANCELED' ? 'been canceled' : 'already finished'}; it takes no more steps`,
    );
  }
}

/** Succeeded or canceled: nothing more of the run is delivered. A failed run may be resumed. */
export function hasEnded(run: WorkflowRun): boolean {
  return run.state === 'RUN_SUCCESS' || run.state === 'RUN_CANCELED';
}

/**
 * After a run's message is stored: a trigger opens its run, any other message is recorded in
 * it so that cancelling the run cancels it too. A deduplicated trigger changes nothing.
 */
export async function recordWorkflowMessage(
  runs: WorkflowRunStore,
  message: Message,
  deduplicated: boolean,
): Promise<void> {
  const tag = message.workflow;
  if (!tag || deduplicated) return;
  if (tag.init || tag.resumedFrom) await openRun(runs, message);
  else await runs.addMessage(tag.runId, message.messageId, message.createdAt);
}

/**
 * Opens the run a first message starts (a trigger, or the first message of a resumed run),
 * unless it is open already; resolves the run. Called when the message is stored and again at
 * its first delivery, so a crash in between cannot lose the run.
 */
export async function openRun(
  runs: WorkflowRunStore,
  message: Message,
): Promise<WorkflowRun | undefined> {
  const tag = message.workflow!;
  const existing = await runs.getRun(tag.runId);
  if (existing) return existing;
  const opened = tag.resumedFrom
    ? await resumedRun(runs, message)
    : { run: triggeredRun(message), steps: [stepOf(message)] };
  if (!opened) return undefined;
  await runs.createRun(opened.run, opened.steps);
  if (tag.resumedFrom) await runs.addMessage(tag.runId, message.messageId, message.createdAt);
  return runs.getRun(tag.runId);
}

function triggeredRun(message: Message): WorkflowRun {
  const tag = message.workflow!;
  return {
    runId: tag.runId,
    url: tag.url,
    createdAt: tag.createdAt,
    state: 'RUN_STARTED',
    labels: message.labels,
    ...(message.callerIp !== undefined && { callerIp: message.callerIp }),
    configHeaders: tag.config ?? {},
    triggerHeader: message.header,
    triggerMessageId: message.messageId,
    ...(tag.invoker && { invoker: tag.invoker }),
  };
}

/** A message of a run as a step of its history. */
export function stepOf(message: Message): NewWorkflowStep {
  return {
    messageId: message.messageId,
    callType: message.workflow?.callType ?? 'step',
    body: message.body,
    createdAt: message.createdAt,
  };
}

/** A resumed run: the failed run's configuration and its history before the failed message. */
async function resumedRun(
  runs: WorkflowRunStore,
  message: Message,
): Promise<{ run: WorkflowRun; steps: NewWorkflowStep[] } | undefined> {
  const tag = message.workflow!;
  const from = tag.resumedFrom!;
  const failed = await runs.getRun(from.runId);
  if (!failed) return undefined;
  const steps = await runs.listSteps(from.runId, from.beforeSeq - 1);
  return {
    run: {
      runId: tag.runId,
      url: failed.url,
      createdAt: tag.createdAt,
      state: 'RUN_STARTED',
      labels: message.labels,
      ...(failed.callerIp !== undefined && { callerIp: failed.callerIp }),
      configHeaders: { ...failed.configHeaders, ...tag.config },
      triggerHeader: failed.triggerHeader,
      triggerMessageId: failed.triggerMessageId,
      ...(failed.invoker && { invoker: failed.invoker }),
    },
    steps: steps.map(({ seq: _seq, ...step }) => step),
  };
}

/**
 * The SDK sends `Content-Type` both as itself and as `Upstash-Forward-Content-Type` on a
 * `context.call`; the destination gets it once.
 */
function forwardContentTypeOnce(
  headers: PublishRequest['headers'],
): Readonly<Record<string, string | undefined>> {
  const forwarded = headers['upstash-forward-content-type'];
  if (forwarded === undefined || forwarded !== headers['content-type']) return headers;
  const { 'upstash-forward-content-type': _duplicate, ...rest } = headers;
  return rest;
}

/**
 * `context.invoke` publishes the invoked workflow's trigger with a JSON envelope: the invoked
 * run's initial body, and the invoking run, which the server tells when the invoked run ends.
 */
function readInvokeRequest(body: Uint8Array): { body: Uint8Array; invoker: WorkflowInvoker } {
  const expected =
    'an invoke request {"body", "headers", "workflowRunId", "workflowRunCreatedAt", "workflowUrl", "step"}';
  let parsed: Record<string, unknown> | undefined;
  try {
    const json: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    if (isPlainObject(json)) parsed = json;
  } catch {
    // refused below
  }
  const valid =
    parsed !== undefined &&
    typeof parsed.workflowRunId === 'string' &&
    typeof parsed.workflowUrl === 'string' &&
    isPlainObject(parsed.step) &&
    (parsed.headers === undefined || isPlainObject(parsed.headers)) &&
    (parsed.body === undefined || parsed.body === null || typeof parsed.body === 'string');
  if (!valid || parsed === undefined) {
    throw new BadRequestError(`invalid Upstash-Workflow-Invoke body: expected ${expected}`);
  }
  const headers = (parsed.headers ?? {}) as Record<string, string | string[]>;
  return {
    body: encoder.encode((parsed.body as string | null | undefined) ?? ''),
    invoker: {
      runId: parsed.workflowRunId as string,
      url: parsed.workflowUrl as string,
      createdAt: Number(parsed.workflowRunCreatedAt) || 0,
      headers: publishHeadersOf(headers),
      step: JSON.stringify(parsed.step),
    },
  };
}
