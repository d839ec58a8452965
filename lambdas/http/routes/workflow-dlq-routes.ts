import type { WorkflowDeadLetter, WorkflowDlqSelection } from '../../core/workflow/workflow-dlq';
import {
  deleteWorkflowDeadLetters,
  restartRuns,
  resumeRuns,
  retryFailureCallback,
  selectWorkflowDeadLetters,
} from '../../core/workflow/workflow-dlq';
import type { WorkflowLogDeps } from '../../core/workflow/workflow-logs';
import { listRunLogs } from '../../core/workflow/workflow-logs';
import type { DeadLetterStore } from '../../ports/dead-letter-store';
import type { EventLog } from '../../ports/event-log';
import type { ApiRequest, ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { deadLetterView } from '../message-views';
import { pathParam } from '../path-params';
import type { Route, RouteContext } from '../route';
import type { WorkflowQuery, WorkflowQueryArea } from '../workflow-query';
import {
  parseWorkflowQuery,
  WORKFLOW_DLQ_BULK,
  WORKFLOW_DLQ_LIST,
  WORKFLOW_LOGS,
} from '../workflow-query';
import type { WorkflowRouteDeps } from './workflow-routes';
import { workflowDeps } from './workflow-routes';

export type WorkflowLogRouteDeps = WorkflowRouteDeps & {
  readonly events: EventLog;
  readonly deadLetters: DeadLetterStore;
};

function route(
  method: Route<WorkflowLogRouteDeps>['method'],
  pattern: RegExp,
  handle: (
    context: RouteContext<WorkflowLogRouteDeps>,
    deps: WorkflowLogDeps,
  ) => Promise<ApiResponse>,
): Route<WorkflowLogRouteDeps> {
  return {
    method,
    pattern,
    handle: (context) => handle(context, { ...context.deps, ...workflowDeps(context.deps) }),
  };
}

function selectionOf(query: WorkflowQuery): WorkflowDlqSelection {
  if (query.dlqIds !== undefined) return { dlqIds: query.dlqIds };
  return {
    filter: query.filter,
    count: query.count,
    ...(query.cursor !== undefined && { cursor: query.cursor }),
    ...(query.failureFunctionStates && { failureFunctionStates: query.failureFunctionStates }),
  };
}

function bulkSelection(request: ApiRequest, area: WorkflowQueryArea): WorkflowDlqSelection {
  return selectionOf(parseWorkflowQuery(request.rawQuery, area));
}

/** A workflow DLQ entry (the SDK's `DLQMessage`): the dead letter, its run, its failure function. */
function workflowDeadLetterView(entry: WorkflowDeadLetter): Record<string, unknown> {
  return {
    ...deadLetterView(entry),
    ...(entry.message.failureCallback && {
      failureCallback: entry.message.failureCallback.url,
      failureCallbackInfo: entry.failureCallbackState && { state: entry.failureCallbackState },
    }),
  };
}

/** `GET /v2/dlq?source=workflow`: the failed runs, as `client.dlq.list` reads them. */
export async function listWorkflowDeadLetters(
  deps: WorkflowLogRouteDeps,
  request: ApiRequest,
): Promise<ApiResponse> {
  const query = parseWorkflowQuery(request.rawQuery, WORKFLOW_DLQ_LIST);
  const { entries, cursor } = await selectWorkflowDeadLetters(
    { ...deps, ...workflowDeps(deps) },
    selectionOf(query),
  );
  return jsonResponse(200, {
    messages: entries.map(workflowDeadLetterView),
    ...(cursor !== undefined && { cursor }),
  });
}

/** Whether a `/v2/dlq` list asks for workflow runs (`source=workflow`, as the workflow SDK does). */
export function isWorkflowSource(rawQuery: string): boolean {
  return new URLSearchParams(rawQuery).get('source') === 'workflow';
}

function startedRuns(single: boolean) {
  return (result: { workflowRuns: unknown[]; cursor?: string }): ApiResponse =>
    jsonResponse(200, single ? result.workflowRuns[0] : result);
}

/**
 * Workflow logs (`/v2/workflows/events`, `/v2/workflows/logs`) and the workflow DLQ
 * (`/v2/workflows/dlq/...`), as `client.logs` and `client.dlq` call them.
 */
export const workflowDlqRoutes: Route<WorkflowLogRouteDeps>[] = [
  ...(['events', 'logs'] as const).map((path) =>
    route('GET', new RegExp(`^/v2/workflows/${path}/?$`), async ({ request }, deps) => {
      const query = parseWorkflowQuery(request.rawQuery, WORKFLOW_LOGS);
      return jsonResponse(
        200,
        await listRunLogs(deps, {
          filter: query.filter,
          count: query.count,
          ...(query.cursor !== undefined && { cursor: query.cursor }),
        }),
      );
    }),
  ),
  route('POST', /^\/v2\/workflows\/dlq\/resume\/?$/, async ({ request }, deps) =>
    startedRuns(false)(
      await resumeRuns(deps, bulkSelection(request, WORKFLOW_DLQ_BULK), request.headers),
    ),
  ),
  route('POST', /^\/v2\/workflows\/dlq\/resume\/([^/]+)$/, async ({ request, params }, deps) =>
    startedRuns(true)(
      await resumeRuns(deps, { dlqIds: [pathParam(params[0]!, 'dlqId')] }, request.headers),
    ),
  ),
  route('POST', /^\/v2\/workflows\/dlq\/restart\/?$/, async ({ request }, deps) =>
    startedRuns(false)(
      await restartRuns(deps, bulkSelection(request, WORKFLOW_DLQ_BULK), request.headers),
    ),
  ),
  route('POST', /^\/v2\/workflows\/dlq\/restart\/([^/]+)$/, async ({ request, params }, deps) =>
    startedRuns(true)(
      await restartRuns(deps, { dlqIds: [pathParam(params[0]!, 'dlqId')] }, request.headers),
    ),
  ),
  route('POST', /^\/v2\/workflows\/dlq\/callback\/([^/]+)$/, async ({ params }, deps) =>
    jsonResponse(200, await retryFailureCallback(deps, pathParam(params[0]!, 'dlqId'))),
  ),
  route('DELETE', /^\/v2\/workflows\/dlq\/?$/, async ({ request }, deps) =>
    jsonResponse(
      200,
      await deleteWorkflowDeadLetters(deps, bulkSelection(request, WORKFLOW_DLQ_BULK)),
    ),
  ),
  route('DELETE', /^\/v2\/workflows\/dlq\/([^/]+)$/, async ({ params }, deps) =>
    jsonResponse(
      200,
      await deleteWorkflowDeadLetters(deps, { dlqIds: [pathParam(params[0]!, 'dlqId')] }),
    ),
  ),
];
