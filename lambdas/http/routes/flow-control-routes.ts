import { BadRequestError } from '../../core/errors';
import {
  MAX_FLOW_CONTROL_PARALLELISM,
  MAX_FLOW_CONTROL_RATE,
  MAX_RATE_PERIOD_SEC,
  parseLimit,
  validateFlowControlKey,
} from '../../core/flow-control';
import type { FlowControlDeps, PinRequest, UnpinRequest } from '../../core/flow-control-keys';
import {
  getFlowControlKey,
  getGlobalParallelism,
  listFlowControlKeys,
  pinFlowControl,
  resetFlowControlRate,
  setFlowControlPaused,
  unpinFlowControl,
} from '../../core/flow-control-keys';
import type { ApiRequest, ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route } from '../route';

export type FlowControlRouteDeps = BaseApiDeps & FlowControlDeps;

const EMPTY_OK: ApiResponse = { status: 200, body: '' };
const KEY = '([^/]+)';

function keyParam(raw: string): string {
  return validateFlowControlKey(pathParam(raw, 'flow-control key'), 'flow-control key');
}

/** The query parameters of a POST, refusing any but `allowed`. */
function queryOf(request: ApiRequest, allowed: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(request.rawQuery)) {
    if (name === 'qstash_token') continue;
    if (!allowed.includes(name)) {
      throw new BadRequestError(
        `unknown query parameter "${name}": allowed parameters are ${allowed.join(', ')}`,
      );
    }
    if (values.has(name)) {
      throw new BadRequestError(`query parameter "${name}" is given twice; give it once`);
    }
    values.set(name, value);
  }
  return values;
}

/** `?parallelism=&rate=&period=` as the SDKs send them; `period` in whole seconds. */
function parsePin(request: ApiRequest): PinRequest {
  const query = queryOf(request, ['parallelism', 'rate', 'period']);
  const number = (name: string, max: number) => {
    const value = query.get(name);
    return value === undefined ? undefined : parseLimit(value, name, max);
  };
  const parallelism = number('parallelism', MAX_FLOW_CONTROL_PARALLELISM);
  const rate = number('rate', MAX_FLOW_CONTROL_RATE);
  const periodSec = number('period', MAX_RATE_PERIOD_SEC);
  return {
    ...(parallelism !== undefined && { parallelism }),
    ...(rate !== undefined && { rate }),
    ...(periodSec !== undefined && { periodSec }),
  };
}

/** `?parallelism=true|false&rate=true|false`; neither given releases both. */
function parseUnpin(request: ApiRequest): UnpinRequest {
  const query = queryOf(request, ['parallelism', 'rate']);
  if (query.size === 0) return { parallelism: true, rate: true };
  const flag = (name: string) => {
    const value = query.get(name)?.trim().toLowerCase();
    if (value === undefined) return false;
    if (value !== 'true' && value !== 'false') {
      throw new BadRequestError(`invalid ${name} "${query.get(name)}": expected true or false`);
    }
    return value === 'true';
  };
  return { parallelism: flag('parallelism'), rate: flag('rate') };
}

function action(
  name: string,
  run: (deps: FlowControlDeps, key: string, request: ApiRequest) => Promise<void>,
): Route<FlowControlRouteDeps> {
  return {
    method: 'POST',
    pattern: new RegExp(`^/v2/flowControl/${KEY}/${name}$`),
    handle: async ({ request, params, deps }) => {
      await run(deps, keyParam(params[0]!), request);
      return EMPTY_OK;
    },
  };
}

/** `/v2/flowControl` and `/v2/globalParallelism` (qstash-api.md §6.7). */
export const flowControlRoutes: Route<FlowControlRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/flowControl\/?$/,
    handle: async ({ request, deps }) => {
      const search = queryOf(request, ['search']).get('search');
      return jsonResponse(200, await listFlowControlKeys(deps, search === '' ? undefined : search));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/v2/flowControl/${KEY}$`),
    handle: async ({ params, deps }) =>
      jsonResponse(200, await getFlowControlKey(deps, keyParam(params[0]!))),
  },
  action('pause', (deps, key) => setFlowControlPaused(deps, key, true)),
  action('resume', (deps, key) => setFlowControlPaused(deps, key, false)),
  action('pin', (deps, key, request) => pinFlowControl(deps, key, parsePin(request))),
  action('unpin', (deps, key, request) => unpinFlowControl(deps, key, parseUnpin(request))),
  action('resetRate', (deps, key) => resetFlowControlRate(deps, key)),
  {
    method: 'GET',
    pattern: /^\/v2\/globalParallelism\/?$/,
    handle: async ({ deps }) => jsonResponse(200, await getGlobalParallelism(deps)),
  },
];
