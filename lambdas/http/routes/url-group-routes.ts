import type { UrlGroupDeps } from '../../core/url-groups';
import {
  ADD_ENDPOINTS_BODY,
  addEndpoints,
  deleteUrlGroup,
  getUrlGroup,
  listUrlGroups,
  REMOVE_ENDPOINTS_BODY,
  removeEndpoints,
} from '../../core/url-groups';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { readJsonBody } from '../json-body';
import type { Route } from '../route';

export type UrlGroupRouteDeps = UrlGroupDeps;

const GROUP = /^\/v2\/topics\/([^/]+)$/;
const ENDPOINTS = /^\/v2\/topics\/([^/]+)\/endpoints$/;

/** Changes answer 200 with no body, as QStash does; the SDKs do not read it. */
const OK: ApiResponse = { status: 200, body: '' };

/** `/v2/topics`: URL groups and their endpoints (qstash-api.md §6.5). */
export const urlGroupRoutes: Route<UrlGroupRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/topics$/,
    handle: async ({ deps }) => jsonResponse(200, await listUrlGroups(deps)),
  },
  {
    method: 'GET',
    pattern: GROUP,
    handle: async ({ params, deps }) => jsonResponse(200, await getUrlGroup(deps, params[0]!)),
  },
  {
    method: 'DELETE',
    pattern: GROUP,
    handle: async ({ params, deps }) => {
      await deleteUrlGroup(deps, params[0]!);
      return OK;
    },
  },
  {
    method: 'POST',
    pattern: ENDPOINTS,
    handle: async ({ request, params, deps }) => {
      await addEndpoints(deps, params[0]!, readJsonBody(request, ADD_ENDPOINTS_BODY));
      return OK;
    },
  },
  {
    method: 'DELETE',
    pattern: ENDPOINTS,
    handle: async ({ request, params, deps }) => {
      await removeEndpoints(deps, params[0]!, readJsonBody(request, REMOVE_ENDPOINTS_BODY));
      return OK;
    },
  },
];
