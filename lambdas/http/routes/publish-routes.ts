import type { PublishRequest } from '../../core/publish';
import { publishMessage } from '../../core/publish';
import { scheduleCron } from '../../core/schedules';
import type { Route } from '../route';
import { publishResponse } from './published-json';
import type { ScheduleRouteDeps } from './schedule-routes';
import { createScheduleResponse } from './schedule-routes';

function publishRoute(pattern: RegExp, queued: boolean): Route<ScheduleRouteDeps> {
  return {
    method: 'POST',
    pattern,
    handle: async ({ request, params, deps }) => {
      const publish: PublishRequest = {
        rawDestination: params[queued ? 1 : 0]!,
        rawQuery: request.rawQuery,
        headers: request.headers,
        body: request.body,
        callerIp: request.sourceIp,
        queueName: queued ? params[0] : undefined,
      };
      // With `Upstash-Cron` a publish creates a schedule and answers `{"scheduleId"}`
      // (DECISIONS.md); enqueued, the schedule's ticks go into that queue.
      const cron = scheduleCron(publish);
      if (cron !== undefined) return createScheduleResponse(deps, publish, cron);
      return publishResponse(await publishMessage(deps, publish));
    },
  };
}

/** `/v2/publish/{destination}` and `/v2/enqueue/{queue}/{destination}` (qstash-api.md §2.1). */
export const publishRoutes: Route<ScheduleRouteDeps>[] = [
  publishRoute(/^\/v2\/publish\/(.+)$/, false),
  publishRoute(/^\/v2\/enqueue\/([^/]+)\/(.+)$/, true),
];
