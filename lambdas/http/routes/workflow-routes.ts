import { BadRequestError, NotFoundError, NotImplementedError } from '../../core/errors';
import type { HeaderMap } from '../../core/headers';
import { appendHeader } from '../../core/headers';
import type { PublishDeps } from '../../core/publish';
import type { WorkflowDeps } from '../../core/workflow/workflow-runs';
import { cancelRun, cancelRuns, finishRun, getRunSteps } from '../../core/workflow/workflow-runs';
import {
  listWaiters,
  notifyEvent,
  receiveWebhook,
  tokenUserId,
  waitForEvent,
} from '../../core/workflow/workflow-waits';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { readJsonBody } from '../json-body';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route, RouteContext } from '../route';
import { parseWorkflowQuery, WORKFLOW_CANCEL } from '../workflow-query';

export type WorkflowRouteDeps = BaseApiDeps & PublishDeps;

const EMPTY_OK: ApiResponse = { status: 200, body: '' };

/** The workflow dependencies, or a 501 on a runtime that has no run registry yet. */
export function workflowDeps(deps: PublishDeps): WorkflowDeps {
  const { workflowRuns } = deps;
  if (!workflowRuns) {
    throw new NotImplementedError('Upstash Workflow is not available on this runtime yet');
  }
  return { ...deps, workflowRuns };
}

function route(
  method: Route<WorkflowRouteDeps>['method'],
  pattern: RegExp,
  handle: (context: RouteContext<WorkflowRouteDeps>, deps: WorkflowDeps) => Promise<ApiResponse>,
): Route<WorkflowRouteDeps> {
  return { method, pattern, handle: (context) => handle(context, workflowDeps(context.deps)) };
}

/**
 * The Upstash Workflow endpoints of the run lifecycle and of waits (workflow-protocol.md §2):
 * `/v2/workflows/runs`, `/v2/wait`, `/v2/notify`, `/v2/waiters`.
 */
export const workflowRoutes: Route<WorkflowRouteDeps>[] = [
  route('GET', /^\/v2\/workflows\/runs\/([^/]+)$/, async ({ params }, deps) =>
    jsonResponse(200, await getRunSteps(deps, pathParam(params[0]!, 'workflow run id'))),
  ),
  route('DELETE', /^\/v2\/workflows\/runs\/([^/]+)$/, async ({ request, params }, deps) => {
    const runId = pathParam(params[0]!, 'workflow run id');
    const cancel = new URLSearchParams(request.rawQuery).get('cancel')?.trim().toLowerCase();
    if (cancel !== undefined && cancel !== 'true' && cancel !== 'false') {
      throw new BadRequestError(`invalid cancel "${cancel}": expected true or false`);
    }
    if (cancel === 'true') {
      return jsonResponse(200, { cancelled: (await cancelRun(deps, runId)) ? 1 : 0 });
    }
    await finishRun(deps, runId, request.body);
    return EMPTY_OK;
  }),
  route('DELETE', /^\/v2\/workflows\/runs\/?$/, async ({ request }, deps) => {
    const query = parseWorkflowQuery(request.rawQuery, WORKFLOW_CANCEL);
    const { runIds, ...filter } = query.filter;
    const selection = runIds !== undefined ? { runIds } : { filter };
    return jsonResponse(200, { cancelled: await cancelRuns(deps, selection, query.count) });
  }),
  route('POST', /^\/v2\/wait\/([^/]+)$/, async ({ request, params }, deps) => {
    const body = readJsonBody(request, 'a wait request {"url", "timeout", "step", ...}');
    await waitForEvent(deps, pathParam(params[0]!, 'event id'), request.headers, body);
    return EMPTY_OK;
  }),
  route('POST', /^\/v2\/notify\/([^/]+)$/, async ({ request, params }, deps) =>
    jsonResponse(200, await notifyEvent(deps, pathParam(params[0]!, 'event id'), request.body)),
  ),
  route('POST', /^\/v2\/notify\/([^/]+)\/([^/]+)$/, async ({ request, params }, deps) =>
    jsonResponse(
      200,
      await notifyEvent(
        deps,
        pathParam(params[1]!, 'event id'),
        request.body,
        pathParam(params[0]!, 'workflow run id'),
      ),
    ),
  ),
  route('GET', /^\/v2\/waiters\/([^/]+)$/, async ({ params }, deps) =>
    jsonResponse(200, await listWaiters(deps, pathParam(params[0]!, 'event id'))),
  ),
];

const HOOK_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const HOOK = /^\/v2\/workflows\/hooks\/([^/]+)\/([^/]+)\/([^/]+)$/;

/**
 * `{server}/v2/workflows/hooks/{userId}/{runId}/{eventId}`, the URL `context.createWebhook`
 * hands out: called by a third party without the token, with any method.
 */
export const workflowHookRoutes: Route<WorkflowRouteDeps>[] = HOOK_METHODS.map((method) => ({
  ...route(method, HOOK, async ({ request, params, deps: { token } }, deps) => {
    const query = request.rawQuery === '' ? '' : `?${request.rawQuery}`;
    const header: HeaderMap = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && name !== 'authorization') appendHeader(header, name, value);
    }
    const received = await receiveWebhook(deps, tokenUserId(token), {
      userId: pathParam(params[0]!, 'user id'),
      runId: pathParam(params[1]!, 'workflow run id'),
      eventId: pathParam(params[2]!, 'event id'),
      method,
      proto: request.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http',
      host: request.headers.host ?? '',
      url: `${request.path}${query}`,
      header,
      body: request.body,
    });
    if (!received) throw new NotFoundError('no such webhook');
    return EMPTY_OK;
  }),
  public: true,
}));
