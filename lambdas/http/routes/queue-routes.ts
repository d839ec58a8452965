import { parseQueueUpsert, requireQueue, validateQueueName } from '../../core/queues';
import type { QueueStore } from '../../ports/queue-store';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { readJsonBody } from '../json-body';
import type { BaseApiDeps, Route } from '../route';

export type QueueRouteDeps = BaseApiDeps & { readonly queues: QueueStore };

const EMPTY_OK: ApiResponse = { status: 200, body: '' };

function setPaused(paused: boolean): Route<QueueRouteDeps> {
  return {
    method: 'POST',
    pattern: new RegExp(`^/v2/queues/([^/]+)/${paused ? 'pause' : 'resume'}$`),
    handle: async ({ params, deps }) => {
      const name = validateQueueName(params[0]!);
      await requireQueue(deps.queues, name);
      await deps.queues.upsertQueue(name, { paused }, deps.clock.now());
      return EMPTY_OK;
    },
  };
}

/** `/v2/queues`: FIFO queues, as the SDKs' `queue()` methods call them (qstash-api.md §6.6). */
export const queueRoutes: Route<QueueRouteDeps>[] = [
  {
    method: 'POST',
    pattern: /^\/v2\/queues\/?$/,
    handle: async ({ request, deps }) => {
      const { name, settings } = parseQueueUpsert(
        readJsonBody(request, '{"queueName": "...", "parallelism": 1, "paused": false}'),
      );
      await deps.queues.upsertQueue(name, settings, deps.clock.now());
      return EMPTY_OK;
    },
  },
  {
    method: 'GET',
    pattern: /^\/v2\/queues\/?$/,
    handle: async ({ deps }) => jsonResponse(200, await deps.queues.listQueues()),
  },
  {
    method: 'GET',
    pattern: /^\/v2\/queues\/([^/]+)$/,
    handle: async ({ params, deps }) =>
      jsonResponse(200, await requireQueue(deps.queues, validateQueueName(params[0]!))),
  },
  {
    method: 'DELETE',
    pattern: /^\/v2\/queues\/([^/]+)$/,
    handle: async ({ params, deps }) => {
      const name = validateQueueName(params[0]!);
      await requireQueue(deps.queues, name);
      await deps.queues.deleteQueue(name, deps.clock.now());
      return EMPTY_OK;
    },
  },
  setPaused(true),
  setPaused(false),
];
