import { MethodNotAllowedError, NotFoundError } from '../core/errors';
import type { PublishDeps } from '../core/publish';
import type { ApiRequest, ApiResponse } from './api-types';
import { createAuthenticator } from './auth';
import { errorResponse } from './error-response';
import type { BaseApiDeps, Route } from './route';
import { batchRoutes } from './routes/batch-routes';
import type { ConsoleRouteDeps } from './routes/console-routes';
import { consoleRoutes } from './routes/console-routes';
import type { DlqRouteDeps } from './routes/dlq-routes';
import { dlqRoutes } from './routes/dlq-routes';
import type { FlowControlRouteDeps } from './routes/flow-control-routes';
import { flowControlRoutes } from './routes/flow-control-routes';
import type { KeyRouteDeps } from './routes/key-routes';
import { keyRoutes } from './routes/key-routes';
import type { LogRouteDeps } from './routes/log-routes';
import { logRoutes } from './routes/log-routes';
import type { MessageRouteDeps } from './routes/message-routes';
import { messageRoutes } from './routes/message-routes';
import { publishRoutes } from './routes/publish-routes';
import type { QueueRouteDeps } from './routes/queue-routes';
import { queueRoutes } from './routes/queue-routes';
import type { ScheduleRouteDeps } from './routes/schedule-routes';
import { scheduleRoutes } from './routes/schedule-routes';
import type { UrlGroupRouteDeps } from './routes/url-group-routes';
import { urlGroupRoutes } from './routes/url-group-routes';
import { workflowDlqRoutes } from './routes/workflow-dlq-routes';
import { workflowHookRoutes, workflowRoutes } from './routes/workflow-routes';

export type ApiDeps = BaseApiDeps &
  PublishDeps &
  KeyRouteDeps &
  QueueRouteDeps &
  UrlGroupRouteDeps &
  MessageRouteDeps &
  DlqRouteDeps &
  LogRouteDeps &
  ScheduleRouteDeps &
  ConsoleRouteDeps &
  FlowControlRouteDeps;

const MAX_LOGGED_PATH = 200;

function allRoutes(): Route<ApiDeps>[] {
  return [
    ...publishRoutes,
    ...keyRoutes,
    ...queueRoutes,
    ...urlGroupRoutes,
    ...batchRoutes,
    ...messageRoutes,
    ...dlqRoutes,
    ...logRoutes,
    ...scheduleRoutes,
    ...consoleRoutes,
    ...workflowRoutes,
    ...workflowHookRoutes,
    ...workflowDlqRoutes,
    ...flowControlRoutes,
  ];
}

/** The `/v2` API over runtime-neutral requests; every route but a public one authenticates first. */
export function createApi(deps: ApiDeps): (request: ApiRequest) => Promise<ApiResponse> {
  const authenticate = createAuthenticator(deps.token);
  const routes = allRoutes();
  return async (request) => {
    try {
      if (!isPublic(routes, request)) authenticate(request);
      return await dispatch(routes, deps, request);
    } catch (error) {
      return errorResponse(error, deps.logger, {
        method: request.method,
        path: routeLabel(request.path),
      });
    }
  };
}

async function dispatch(
  routes: Route<ApiDeps>[],
  deps: ApiDeps,
  request: ApiRequest,
): Promise<ApiResponse> {
  const allowed: string[] = [];
  for (const route of routes) {
    const match = route.pattern.exec(request.path);
    if (!match) continue;
    if (route.method === request.method)
      return route.handle({ request, params: match.slice(1), deps });
    allowed.push(route.method);
  }
  const label = routeLabel(request.path);
  if (allowed.length > 0) {
    throw new MethodNotAllowedError(
      `${request.method} is not allowed on ${label}; use ${allowed.join(' or ')}`,
    );
  }
  throw new NotFoundError(`no route for ${request.method} ${label}`);
}

function isPublic(routes: Route<ApiDeps>[], request: ApiRequest): boolean {
  return routes.some(
    (route) =>
      route.public === true && route.method === request.method && route.pattern.test(request.path),
  );
}

/** Paths carry destination URLs; logs and errors show them cut to a sane length. */
function routeLabel(path: string): string {
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}
