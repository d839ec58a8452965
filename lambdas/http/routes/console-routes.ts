import type { OverviewDeps } from '../../core/message-overview';
import { getMessageStory, listMessageSummaries } from '../../core/message-overview';
import { jsonResponse } from '../api-types';
import { parseMessageOverviewQuery } from '../list-query';
import { messageStoryView, messageSummaryView } from '../overview-views';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route } from '../route';

export type ConsoleRouteDeps = BaseApiDeps & OverviewDeps;

/**
 * What the console reads beyond QStash's API, authenticated like every route: messages by the
 * state they are in now (QStash's log lists events, not messages), and one message's story.
 */
export const consoleRoutes: Route<ConsoleRouteDeps>[] = [
  {
    method: 'GET',
    pattern: /^\/v2\/console\/messages\/?$/,
    handle: async ({ request, deps }) => {
      const page = await listMessageSummaries(deps, parseMessageOverviewQuery(request.rawQuery));
      return jsonResponse(200, {
        messages: page.items.map(messageSummaryView),
        ...(page.cursor !== undefined && { cursor: page.cursor }),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/v2\/console\/messages\/([^/]+)$/,
    handle: async ({ params, deps }) =>
      jsonResponse(
        200,
        messageStoryView(await getMessageStory(deps, pathParam(params[0]!, 'message id'))),
      ),
  },
];
