import type { LogDeps } from '../../core/logs';
import { listLogs } from '../../core/logs';
import { jsonResponse } from '../api-types';
import { parseLogQuery } from '../list-query';
import { logEntryView } from '../message-views';
import type { BaseApiDeps, Route } from '../route';

export type LogRouteDeps = BaseApiDeps & LogDeps;

/**
 * The message log on both paths (qstash-api.md §6.3): `/v2/events`, which every SDK calls and
 * reads `events` from, and `/v2/logs`, the current OpenAPI path, which answers `logs`.
 */
function logRoute(path: 'events' | 'logs'): Route<LogRouteDeps> {
  return {
    method: 'GET',
    pattern: new RegExp(`^/v2/${path}/?$`),
    handle: async ({ request, deps }) => {
      const page = await listLogs(deps, parseLogQuery(request.rawQuery));
      return jsonResponse(200, {
        [path]: page.items.map(logEntryView),
        ...(page.cursor !== undefined && { cursor: page.cursor }),
      });
    },
  };
}

export const logRoutes: Route<LogRouteDeps>[] = [logRoute('events'), logRoute('logs')];
