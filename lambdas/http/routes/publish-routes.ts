import type { PublishDeps } from '../../core/publish';
import { publishMessage } from '../../core/publish';
import type { Route } from '../route';
import { publishResponse } from './published-json';

function publishRoute(pattern: RegExp, queued: boolean): Route<PublishDeps> {
  return {
    method: 'POST',
    pattern,
    handle: async ({ request, params, deps }) => {
      const published = await publishMessage(deps, {
        rawDestination: params[queued ? 1 : 0]!,
        rawQuery: request.rawQuery,
        headers: request.headers,
        body: request.body,
        callerIp: request.sourceIp,
        queueName: queued ? params[0] : undefined,
      });
      return publishResponse(published);
    },
  };
}

/** `/v2/publish/{destination}` and `/v2/enqueue/{queue}/{destination}` (qstash-api.md §2.1). */
export const publishRoutes: Route<PublishDeps>[] = [
  publishRoute(/^\/v2\/publish\/(.+)$/, false),
  publishRoute(/^\/v2\/enqueue\/([^/]+)\/(.+)$/, true),
];
