import type { WorkflowRunFilter, WorkflowRunStore } from '../../ports/workflow-run-store';
import { NotFoundError, WorkflowRunEndedError } from '../errors';
import type { PublishDeps } from '../publish';
import { publishMessage } from '../publish';
import { hasEnded } from './workflow-publish';
import type { WorkflowRun, WorkflowStep } from './workflow-run';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Everything the workflow protocol needs: publishing, and the run registry. */
export type WorkflowDeps = PublishDeps & { readonly workflowRuns: WorkflowRunStore };

/** A step as a delivery (or `GET /v2/workflows/runs/{id}`) hands it to the SDK (`RawStep`). */
export type RawStep = { messageId: string; body: string; callType: string };

export function rawSteps(steps: readonly WorkflowStep[]): RawStep[] {
  return steps.map((step) => ({
    messageId: step.messageId,
    body: Buffer.from(step.body).toString('base64'),
    callType: step.callType,
  }));
}

function runNotFound(runId: string): NotFoundError {
  return new NotFoundError(`workflow run "${runId}" not found, or it has ended`);
}

/**
 * `GET /v2/workflows/runs/{id}`: the run's history, for a delivery sent with an empty body
 * (`LazyFetch`). 404 once the run has ended, which the SDK reads as "the run is over".
 */
export async function getRunSteps(deps: WorkflowDeps, runId: string): Promise<RawStep[]> {
  const run = await deps.workflowRuns.getRun(runId);
  if (!run || hasEnded(run)) throw runNotFound(runId);
  return rawSteps(await deps.workflowRuns.listSteps(runId));
}

/**
 * `DELETE /v2/workflows/runs/{id}?cancel=false`: the SDK's last call of every run, with what
 * the route function returned. Answered alike when the run has ended already, so a final
 * delivery that is retried (its answer was lost) does not fail.
 */
export async function finishRun(
  deps: WorkflowDeps,
  runId: string,
  result: Uint8Array,
): Promise<void> {
  const text = result.byteLength > 0 ? decoder.decode(result) : undefined;
  const ended = await deps.workflowRuns.endRun(runId, {
    state: 'RUN_SUCCESS',
    at: deps.clock.now(),
    ...(text !== undefined && { result: text }),
  });
  if (!ended) {
    if (!(await deps.workflowRuns.getRun(runId))) throw runNotFound(runId);
    return;
  }
  await deps.workflowRuns.deleteWaits(runId);
  await notifyInvoker(deps, ended, { body: text });
}

/**
 * Cancels a started (or failed) run: it ends RUN_CANCELED, its pending messages are canceled,
 * its waits forgotten, and the run that invoked it is told. Resolves whether it was canceled.
 */
export async function cancelRun(deps: WorkflowDeps, runId: string): Promise<boolean> {
  const now = deps.clock.now();
  const ended = await deps.workflowRuns.endRun(runId, { state: 'RUN_CANCELED', at: now });
  if (!ended) return false;
  // A message that escapes this (published meanwhile) is dropped at delivery: the run has ended.
  const messageIds = await deps.workflowRuns.listMessageIds(runId);
  if (messageIds.length > 0) await deps.store.cancelMessages({ messageIds }, now);
  await deps.workflowRuns.deleteWaits(runId);
  await notifyInvoker(deps, ended, { isCanceled: true });
  return true;
}

/** Most runs one bulk cancel ends. */
export const MAX_CANCEL_COUNT = 1000;

/**
 * `DELETE /v2/workflows/runs`: cancels the runs given by id, or up to `count` started runs
 * a filter selects (all started runs, newest first, with an empty filter).
 */
export async function cancelRuns(
  deps: WorkflowDeps,
  selection: { readonly runIds: readonly string[] } | { readonly filter: WorkflowRunFilter },
  count: number,
): Promise<number> {
  const runIds =
    'runIds' in selection
      ? selection.runIds
      : (
          await deps.workflowRuns.listRuns({
            filter: { ...selection.filter, states: ['RUN_STARTED'] },
            count,
          })
        ).items.map((run) => run.runId);
  let cancelled = 0;
  for (const runId of new Set(runIds)) {
    if (await cancelRun(deps, runId)) cancelled += 1;
  }
  return cancelled;
}

/** How an invoked run ended, for the run that invoked it (`InvokeStepResponse`). */
export type InvokeResult = {
  readonly body?: string;
  readonly isFailed?: boolean;
  readonly isCanceled?: boolean;
};

/**
 * Completes the invoking run's `context.invoke` step with how this run ended. Published once
 * per run however often it is called (its dedup key is the run id), so the paths that may
 * report one end (a failure's settlement and its failure callback) can both call it.
 */
export async function notifyInvoker(
  deps: WorkflowDeps,
  run: WorkflowRun,
  result: InvokeResult,
): Promise<void> {
  const { invoker } = run;
  if (!invoker) return;
  const step = JSON.parse(invoker.step) as Record<string, unknown>;
  const out = JSON.stringify({
    body: result.body,
    isFailed: result.isFailed ?? false,
    isCanceled: result.isCanceled ?? false,
  });
  try {
    await publishMessage(deps, {
      rawDestination: invoker.url,
      rawQuery: '',
      headers: invoker.headers,
      body: encoder.encode(JSON.stringify({ ...step, out })),
      idempotencyKey: `workflow-invoked:${run.runId}`,
    });
  } catch (error) {
    // The invoking run has ended (canceled meanwhile): nobody waits for the result.
    if (!(error instanceof WorkflowRunEndedError)) throw error;
  }
}

/**
 * Records that a run failed into the DLQ and tells its invoker. Idempotent: a failure's
 * settlement and its failure callback's first delivery both report it, so a crash between the
 * settlement and this call is repaired when the failure callback is delivered.
 */
export async function recordRunFailure(
  deps: WorkflowDeps,
  runId: string,
  failure: { readonly dlqId: string; readonly failureCallbackMessageId?: string },
): Promise<void> {
  await deps.workflowRuns.markRunFailed(runId, { ...failure, at: deps.clock.now() });
  const run = await deps.workflowRuns.getRun(runId);
  if (run?.state === 'RUN_FAILED' && run.dlqId === failure.dlqId) {
    await notifyInvoker(deps, run, { isFailed: true });
  }
}
