import type { PublishDeps } from '../../core/publish';
import { publishMessage } from '../../core/publish';
import { jsonResponse } from '../api-types';
import type { Route } from '../route';

export const publishRoutes: Route<PublishDeps>[] = [
  {
    method: 'POST',
    pattern: /^\/v2\/publish\/(.+)$/,
    handle: async ({ request, params, deps }) => {
      const published = await publishMessage(deps, {
        rawDestination: params[0]!,
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
    },
  },
];
