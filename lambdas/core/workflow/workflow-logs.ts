import type { DeadLetterStore } from '../../ports/dead-letter-store';
import type { EventLog, LogRecord } from '../../ports/event-log';
import type { WorkflowRunQuery } from '../../ports/workflow-run-store';
import type { HeaderMap } from '../headers';
import type { LogEvent } from '../message';
import type { WorkflowRun, WorkflowStep } from './workflow-run';
import type { WorkflowDeps } from './workflow-runs';

/**
 * `GET /v2/workflows/events` (`client.logs`): runs newest first, each with its steps grouped
 * as the SDK types them (`WorkflowRunLog`, `StepLogGroup`). A run's history gives the finished
 * steps; the log of its messages gives the step in progress and the failure function's state.
 */

export type WorkflowLogDeps = WorkflowDeps & {
  readonly events: EventLog;
  readonly deadLetters: DeadLetterStore;
};

type Json = Record<string, unknown>;

/** Events read per run to tell its step in progress and failure callback state. */
const EVENTS_PER_RUN = 1000;
const decoder = new TextDecoder();

export type StepError = {
  error: string;
  body: string;
  headers: HeaderMap;
  status: number;
  time: number;
};

/** The state of the failure function, as the SDK types it (`FailureCallbackInfo.state`). */
export type FailureCallbackState =
  | 'CALLBACK_INPROGRESS'
  | 'CALLBACK_SUCCESS'
  | 'CALLBACK_FAIL'
  | 'CALLBACK_CANCELED';

export async function listRunLogs(
  deps: WorkflowLogDeps,
  query: WorkflowRunQuery,
): Promise<{ runs: Json[]; cursor?: string }> {
  const page = await deps.workflowRuns.listRuns(query);
  const runs: Json[] = [];
  for (const run of page.items) runs.push(await runLog(deps, run));
  return { runs, ...(page.cursor !== undefined && { cursor: page.cursor }) };
}

async function runLog(deps: WorkflowLogDeps, run: WorkflowRun): Promise<Json> {
  const steps = await deps.workflowRuns.listSteps(run.runId);
  const byMessage = await eventsByMessage(deps, run.runId);
  const groups = stepGroups(steps);
  if (run.state === 'RUN_STARTED' || run.state === 'RUN_FAILED') {
    const next = nextSteps(byMessage);
    if (next.length > 0) groups.push({ type: 'next', steps: next });
  }
  return defined({
    workflowRunId: run.runId,
    workflowUrl: run.url,
    workflowState: run.state,
    workflowRunCreatedAt: run.createdAt,
    workflowRunCompletedAt: run.completedAt,
    workflowRunResponse: run.result,
    labels: [...run.labels],
    label: run.labels[0],
    dlqId: run.dlqId,
    invoker: run.invoker && {
      workflowRunId: run.invoker.runId,
      workflowUrl: run.invoker.url,
      workflowRunCreatedAt: run.invoker.createdAt,
    },
    failureFunction: await failureFunctionLog(deps, run, byMessage),
    steps: groups,
  });
}

/** Each of the run's messages with its log events, oldest first. */
async function eventsByMessage(
  deps: WorkflowLogDeps,
  runId: string,
): Promise<Map<string, LogRecord[]>> {
  const messageIds = await deps.workflowRuns.listMessageIds(runId);
  const byMessage = new Map<string, LogRecord[]>();
  if (messageIds.length === 0) return byMessage;
  const page = await deps.events.listEvents({
    filter: { messageIds },
    count: EVENTS_PER_RUN,
    order: 'earliestFirst',
  });
  for (const record of page.items) {
    const list = byMessage.get(record.event.messageId) ?? [];
    list.push(record);
    byMessage.set(record.event.messageId, list);
  }
  return byMessage;
}

/**
 * The finished steps: the initial payload, then each step result the SDK submitted, a run of
 * parallel results (`concurrent` > 1) grouped together. Plan steps of parallel runs and the
 * messages of `context.call` are the SDK's bookkeeping, not steps of their own.
 */
function stepGroups(steps: readonly WorkflowStep[]): Json[] {
  const groups: Json[] = [];
  let parallel: { steps: Json[]; size: number } | undefined;
  for (const step of steps) {
    if (step.callType !== 'step') continue;
    if (step.seq === 0) {
      groups.push({
        type: 'sequential',
        steps: [
          {
            stepName: 'init',
            stepType: 'Initial',
            callType: 'step',
            messageId: step.messageId,
            out: decoder.decode(step.body),
            concurrent: 1,
            state: 'STEP_SUCCESS',
            createdAt: step.createdAt,
          },
        ],
      });
      continue;
    }
    const parsed = parseStep(step.body);
    if (!parsed || (parsed.stepId === 0 && parsed.targetStep !== undefined)) continue;
    const log = defined({
      ...parsed,
      callType: 'step',
      messageId: step.messageId,
      state: 'STEP_SUCCESS',
      createdAt: step.createdAt,
    });
    const concurrent = typeof parsed.concurrent === 'number' ? parsed.concurrent : 1;
    if (concurrent <= 1) {
      groups.push({ type: 'sequential', steps: [log] });
      parallel = undefined;
      continue;
    }
    if (!parallel || parallel.steps.length >= parallel.size) {
      parallel = { steps: [], size: concurrent };
      groups.push({ type: 'parallel', steps: parallel.steps });
    }
    parallel.steps.push(log);
  }
  return groups;
}

function parseStep(body: Uint8Array): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(decoder.decode(body));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Json)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The steps in progress: the run's messages whose delivery has not succeeded (waiting for their
 * time, retrying, or failed into the DLQ; a pending wait is its timeout), with the errors of
 * their attempts.
 */
function nextSteps(byMessage: ReadonlyMap<string, LogRecord[]>): Json[] {
  const next: Json[] = [];
  for (const [messageId, records] of byMessage) {
    const message = records[0]?.message;
    const callType = message?.workflow?.callType;
    if (callType === 'failureCall' || callType === 'toCallback') continue;
    const states = new Set(records.map((record) => record.event.state));
    if (states.has('DELIVERED') || states.has('CANCELED')) continue;
    const errors = records
      .map((record) => record.event)
      .filter((event) => event.state === 'ERROR')
      .map(stepError);
    next.push(
      defined({
        messageId,
        state: states.has('FAILED')
          ? 'STEP_FAILED'
          : states.has('RETRY') || errors.length > 0
            ? 'STEP_RETRY'
            : 'STEP_PROGRESS',
        retries: message?.maxRetries ?? 0,
        retryDelay: message?.retryDelayExpression,
        errors: errors.length > 0 ? errors : undefined,
      }),
    );
  }
  return next;
}

function stepError(event: LogEvent): StepError {
  return {
    error: event.error ?? '',
    body: event.responseBody ? Buffer.from(event.responseBody, 'base64').toString('utf8') : '',
    headers: event.responseHeader ?? {},
    status: event.responseStatus ?? 0,
    time: event.time,
  };
}

/** The failure callback's state from its message's log. */
export function failureCallbackState(records: readonly LogRecord[]): FailureCallbackState {
  const states = new Set(records.map((record) => record.event.state));
  if (states.has('DELIVERED')) return 'CALLBACK_SUCCESS';
  if (states.has('FAILED')) return 'CALLBACK_FAIL';
  if (states.has('CANCELED')) return 'CALLBACK_CANCELED';
  return 'CALLBACK_INPROGRESS';
}

async function failureFunctionLog(
  deps: WorkflowLogDeps,
  run: WorkflowRun,
  byMessage: ReadonlyMap<string, LogRecord[]>,
): Promise<Json | undefined> {
  const messageId = run.failureCallbackMessageId;
  if (messageId === undefined) return undefined;
  const records = byMessage.get(messageId) ?? [];
  const failed =
    run.dlqId === undefined ? undefined : await deps.deadLetters.getDeadLetter(run.dlqId);
  const answered = [...records]
    .reverse()
    .find((record) => record.event.responseStatus !== undefined);
  const errors = records.map((record) => record.event).filter((event) => event.state === 'ERROR');
  return defined({
    messageId,
    url: records[0]?.event.url,
    state: failureCallbackState(records),
    failHeaders: failed?.deadLetter.responseHeader ?? {},
    failStatus: failed?.deadLetter.responseStatus ?? 0,
    failResponse: failed ? decoder.decode(failed.deadLetter.responseBody) : '',
    dlqId: run.dlqId,
    errors: errors.length > 0 ? errors.map(stepError) : undefined,
    responseStatus: answered?.event.responseStatus,
    responseHeaders: answered?.event.responseHeader,
    responseBody:
      answered?.event.responseBody && Buffer.from(answered.event.responseBody, 'base64').toString(),
  });
}

function defined(fields: Json): Json {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
