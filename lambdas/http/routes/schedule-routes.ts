import { BadRequestError, NotImplementedError } from '../../core/errors';
import type { PublishDeps, PublishRequest } from '../../core/publish';
import type { ScheduleDeps } from '../../core/schedules';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  pauseSchedule,
  resumeSchedule,
  scheduleCron,
} from '../../core/schedules';
import type { ScheduleStore, ScheduleTrigger } from '../../ports/schedule-store';
import type { ApiResponse } from '../api-types';
import { jsonResponse } from '../api-types';
import { pathParam } from '../path-params';
import type { BaseApiDeps, Route } from '../route';
import { scheduleView } from '../schedule-views';

export type ScheduleRouteDeps = BaseApiDeps &
  PublishDeps & {
    /** Absent in a runtime that does not provide schedules (yet): their routes answer 501. */
    readonly schedules?: ScheduleStore;
    readonly trigger?: ScheduleTrigger;
  };

const EMPTY_OK: ApiResponse = { status: 200, body: '' };
/**
 * Schedule ids are letters, digits, `-`, `_` and `.` (core/schedules.ts), never `/`, `:` or
 * `%`: so `/v2/schedules/{id}/pause` cannot be a create for a destination, which is a URL
 * (`https:`, or `https%3A` percent-encoded) or a URL group name (no `/`).
 */
const SCHEDULE_ID = '([A-Za-z0-9._-]+)';

function scheduleDeps(deps: ScheduleRouteDeps): ScheduleDeps {
  const { schedules, trigger } = deps;
  if (!schedules || !trigger) {
    throw new NotImplementedError('schedules are not available in this runtime yet');
  }
  return { ...deps, schedules, trigger };
}

/**
 * Creates the schedule a publish with `Upstash-Cron` asks for: 200 `{"scheduleId"}`, or 202
 * `{"scheduleId", "deduplicated": true}` naming the schedule an earlier duplicate created.
 */
export async function createScheduleResponse(
  deps: ScheduleRouteDeps,
  request: PublishRequest,
  cron: string,
): Promise<ApiResponse> {
  const { scheduleId, deduplicated } = await createSchedule(scheduleDeps(deps), {
    ...request,
    cron,
  });
  return deduplicated
    ? jsonResponse(202, { scheduleId, deduplicated: true })
    : jsonResponse(200, { scheduleId });
}

function setPausedRoute(
  method: 'PATCH' | 'POST',
  action: 'pause' | 'resume',
): Route<ScheduleRouteDeps> {
  return {
    method,
    pattern: new RegExp(`^/v2/schedules/${SCHEDULE_ID}/${action}$`),
    handle: async ({ params, deps }) => {
      const scheduleId = params[0]!;
      if (action === 'pause') await pauseSchedule(scheduleDeps(deps), scheduleId);
      else await resumeSchedule(scheduleDeps(deps), scheduleId);
      return EMPTY_OK;
    },
  };
}

/**
 * `/v2/schedules` (qstash-api.md §6.4). Pause and resume take PATCH, as the SDKs send, and POST,
 * as the OpenAPI file says (§9 item 5); they come first, so they are never read as a create.
 */
export const scheduleRoutes: Route<ScheduleRouteDeps>[] = [
  setPausedRoute('PATCH', 'pause'),
  setPausedRoute('POST', 'pause'),
  setPausedRoute('PATCH', 'resume'),
  setPausedRoute('POST', 'resume'),
  {
    method: 'GET',
    pattern: /^\/v2\/schedules\/?$/,
    handle: async ({ deps }) => {
      const schedules = await listSchedules(scheduleDeps(deps));
      return jsonResponse(
        200,
        schedules.map((schedule) => scheduleView(schedule, deps.config)),
      );
    },
  },
  {
    method: 'GET',
    pattern: /^\/v2\/schedules\/([^/]+)$/,
    handle: async ({ params, deps }) => {
      const schedule = await getSchedule(scheduleDeps(deps), pathParam(params[0]!, 'schedule id'));
      return jsonResponse(200, scheduleView(schedule, deps.config));
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v2\/schedules\/([^/]+)$/,
    handle: async ({ params, deps }) => {
      await deleteSchedule(scheduleDeps(deps), pathParam(params[0]!, 'schedule id'));
      return EMPTY_OK;
    },
  },
  {
    // The destination is raw in the path, as for /v2/publish; `Upstash-Cron` is required.
    method: 'POST',
    pattern: /^\/v2\/schedules\/(.+)$/,
    handle: async ({ request, params, deps }) => {
      const publish: PublishRequest = {
        rawDestination: params[0]!,
        rawQuery: request.rawQuery,
        headers: request.headers,
        body: request.body,
        callerIp: request.sourceIp,
      };
      const cron = scheduleCron(publish);
      if (cron === undefined) {
        throw new BadRequestError(
          'Upstash-Cron is required to create a schedule, e.g. "*/5 * * * *" (minute hour day-of-month month day-of-week, UTC)',
        );
      }
      return createScheduleResponse(deps, publish, cron);
    },
  },
];
