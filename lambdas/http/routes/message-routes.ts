import type { MessageDeps } from '../../core/messages';
import { cancelMessage, cancelMessages, getPendingMessage } from '../../core/messages';
import { jsonResponse } from '../api-types';
import { parseMessageCancelRequest } from '../list-query';
import { messageView } from '../message-views';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route } from '../route';

export type MessageRouteDeps = BaseApiDeps & MessageDeps;

/** `/v2/messages`: read and cancel messages that are not delivered yet (qstash-api.md §6.1). */
export const messageRoutes: Route<MessageRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/messages\/([^/]+)$/,
    handle: async ({ params, deps }) =>
      jsonResponse(
        200,
        messageView(await getPendingMessage(deps, pathParam(params[0]!, 'message id'))),
      ),
  },
  {
    // The JS SDK's `messages.cancel(id)` parses the answer: `{"cancelled": 1}`.
    method: 'DELETE',
    pattern: /^\/v2\/messages\/([^/]+)$/,
    handle: async ({ params, deps }) =>
      jsonResponse(200, {
        cancelled: await cancelMessage(deps, pathParam(params[0]!, 'message id')),
      }),
  },
  {
    method: 'DELETE',
    pattern: /^\/v2\/messages\/?$/,
    handle: async ({ request, deps }) => {
      const { filter, count } = parseMessageCancelRequest(request);
      return jsonResponse(200, { cancelled: await cancelMessages(deps, filter, count) });
    },
  },
];
