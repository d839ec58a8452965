import type { DeadLetterDeps } from '../../core/dead-letters';
import {
  deleteDeadLetter,
  deleteDeadLetters,
  getDeadLetter,
  listDeadLetters,
  retryDeadLetters,
} from '../../core/dead-letters';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { parseDeadLetterBulkRequest, parseDeadLetterListQuery } from '../list-query';
import { deadLetterView } from '../message-views';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route } from '../route';
import type { WorkflowLogRouteDeps } from './workflow-dlq-routes';
import { isWorkflowSource, listWorkflowDeadLetters } from './workflow-dlq-routes';

export type DlqRouteDeps = BaseApiDeps & DeadLetterDeps & WorkflowLogRouteDeps;

const EMPTY_OK: ApiResponse = { status: 200, body: '' };

/** `/v2/dlq`: list, read, delete and retry dead letters (qstash-api.md §6.2). */
export const dlqRoutes: Route<DlqRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/dlq\/?$/,
    handle: async ({ request, deps }) => {
      // The workflow SDK lists failed runs here, with `source=workflow` and run filters.
      if (isWorkflowSource(request.rawQuery)) return listWorkflowDeadLetters(deps, request);
      const page = await listDeadLetters(deps, parseDeadLetterListQuery(request.rawQuery));
      return jsonResponse(200, {
        messages: page.items.map(deadLetterView),
        ...(page.cursor !== undefined && { cursor: page.cursor }),
      });
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v2\/dlq\/?$/,
    handle: async ({ request, deps }) =>
      jsonResponse(200, await deleteDeadLetters(deps, parseDeadLetterBulkRequest(request))),
  },
  {
    // The bulk form is what the JS SDK calls, even for one id (`?dlqIds=<id>`).
    method: 'POST',
    pattern: /^\/v2\/dlq\/retry\/?$/,
    handle: async ({ request, deps }) => {
      const retried = await retryDeadLetters(
        deps,
        parseDeadLetterBulkRequest(request),
        request.headers,
      );
      return jsonResponse(201, {
        responses: retried.messageIds.map((messageId) => ({ messageId })),
        ...(retried.cursor !== undefined && { cursor: retried.cursor }),
      });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v2\/dlq\/retry\/([^/]+)$/,
    handle: async ({ request, params, deps }) => {
      const dlqId = pathParam(params[0]!, 'dlqId');
      const retried = await retryDeadLetters(
        deps,
        { filter: { dlqIds: [dlqId] }, count: 1, order: 'latestFirst' },
        request.headers,
      );
      return jsonResponse(201, { messageId: retried.messageIds[0] });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v2\/dlq\/([^/]+)$/,
    handle: async ({ params, deps }) =>
      jsonResponse(200, deadLetterView(await getDeadLetter(deps, pathParam(params[0]!, 'dlqId')))),
  },
  {
    method: 'DELETE',
    pattern: /^\/v2\/dlq\/([^/]+)$/,
    handle: async ({ params, deps }) => {
      await deleteDeadLetter(deps, pathParam(params[0]!, 'dlqId'));
      return EMPTY_OK;
    },
  },
];
