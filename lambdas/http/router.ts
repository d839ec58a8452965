import { MethodNotAllowedError, NotFoundError } from '../core/errors';
import type { PublishDeps } from '../core/publish';
import { publishMessage } from '../core/publish';
import type { SigningKeys } from '../core/signing';
import type { Logger } from '../ports/logger';
import type { ApiRequest, ApiResponse } from './api-types';
import { jsonResponse } from './api-types';
import { createAuthenticator } from './auth';
import { errorResponse } from './error-response';

export type ApiDeps = PublishDeps & {
  readonly token: string;
  readonly signingKeys: () => SigningKeys;
  readonly logger: Logger;
};

const PUBLISH_PREFIX = '/v2/publish/';

/** The `/v2` API over runtime-neutral requests; every route authenticates first. */
export function createApi(deps: ApiDeps): (request: ApiRequest) => Promise<ApiResponse> {
  const authenticate = createAuthenticator(deps.token);
  return async (request) => {
    try {
      authenticate(request);
      return await route(deps, request);
    } catch (error) {
      return errorResponse(error, deps.logger, {
        method: request.method,
        path: routeLabel(request.path),
      });
    }
  };
}

async function route(deps: ApiDeps, request: ApiRequest): Promise<ApiResponse> {
  const { method, path } = request;
  if (path.startsWith(PUBLISH_PREFIX)) {
    requireMethod(method, 'POST', path);
    const published = await publishMessage(deps, {
      rawDestination: path.slice(PUBLISH_PREFIX.length),
      rawQuery: request.rawQuery,
      headers: request.headers,
      body: request.body,
      callerIp: request.sourceIp,
    });
    const { messageId, url } = published;
    // A duplicate is accepted (202) and names the message that was published first.
    return published.deduplicated
      ? jsonResponse(202, { messageId, url, deduplicated: true })
      : jsonResponse(200, { messageId, url });
  }
  if (path === '/v2/keys') {
    requireMethod(method, 'GET', path);
    const { current, next } = deps.signingKeys();
    return jsonResponse(200, { current, next });
  }
  throw new NotFoundError(`no route for ${method} ${routeLabel(path)}`);
}

function requireMethod(method: string, allowed: string, path: string): void {
  if (method !== allowed) {
    throw new MethodNotAllowedError(
      `${method} is not allowed on ${routeLabel(path)}; use ${allowed}`,
    );
  }
}

/** Paths carry destination URLs; logs and errors show only the route, cut to a sane length. */
function routeLabel(path: string): string {
  const MAX = 200;
  return path.length > MAX ? `${path.slice(0, MAX)}…` : path;
}
