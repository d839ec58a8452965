import type { DedupClaim } from '../ports/message-store';
import type { Schedule, ScheduleStore, ScheduleTrigger } from '../ports/schedule-store';
import type { CronSchedule } from './cron';
import { nextFireTimes, parseCron } from './cron';
import { dedupKey } from './dedup';
import { BadRequestError, NotFoundError, QStashApiError } from './errors';
import type { IncomingHeaders } from './headers';
import type { PublishDeps, PublishRequest } from './publish';
import { publishMessage, validatePublish } from './publish';
import { isForwardedByHeaderForward, mergeQueryConfig } from './publish-options';

/**
 * Cron schedules (qstash-api.md §6.4): `POST /v2/schedules/{destination}`, or `Upstash-Cron` on
 * `/v2/publish` (DECISIONS.md). A schedule keeps the publish it repeats; every tick publishes it
 * afresh through `publishMessage`, so a tick's message is validated, stored, logged, delivered,
 * retried and dead-lettered exactly like any other, with `scheduleId` set on it.
 *
 * Choices where QStash says nothing:
 * - Creation checks everything a tick's publish checks except that a URL group exists: the
 *   group is looked up per tick (it may be created after the schedule, or deleted while it
 *   runs), and a tick whose publish is refused records the reason in the schedule's `error`.
 * - Reusing an `Upstash-Schedule-Id` overwrites the schedule as QStash does: template, cron,
 *   `createdAt`, paused state (a replaced schedule runs) and run state (`lastScheduleTime`).
 * - Deduplication (`Upstash-Deduplication-Id`, content-based) runs once, before the schedule is
 *   created; the messages its ticks publish are never deduplicated (DECISIONS.md), except that
 *   the same tick fired twice publishes once (`fireSchedule`).
 */

export type ScheduleDeps = PublishDeps & {
  readonly schedules: ScheduleStore;
  readonly trigger: ScheduleTrigger;
};

export type CreatedSchedule = { scheduleId: string; deduplicated: boolean };

export type TickOutcome = 'fired' | 'skipped';

const SCHEDULE_ID = /^[A-Za-z0-9._-]+$/;
/** Longest `Upstash-Schedule-Id` accepted. */
export const MAX_SCHEDULE_ID_LENGTH = 128;
const DAY_MS = 86_400_000;
/**
 * How long a tick's idempotency key outlives the tick, at least: longer than any redelivery of
 * the same tick (EventBridge retries for up to a day; SQS keeps a message for at most 14 days).
 * The key also lives until the tick after it, so the embedded runner, which re-fires a tick
 * whose recording a crash lost, finds it.
 */
const TICK_IDEMPOTENCY_MS = 14 * DAY_MS;

/** Headers that configure the schedule itself; a tick's message never sees them. */
const SCHEDULE_HEADERS = new Set(['upstash-cron', 'upstash-schedule-id', 'upstash-queue-name']);
/** Deduplication applies to the creation of the schedule, never to its ticks. */
const DEDUP_HEADERS = new Set(['upstash-deduplication-id', 'upstash-content-based-deduplication']);
const TELEMETRY_PREFIX = 'upstash-telemetry-';

/**
 * The `Upstash-Cron` of a publish (header or `upstash-cron` query parameter), or undefined: a
 * publish that carries one creates a schedule instead of a message.
 */
export function scheduleCron(request: PublishRequest): string | undefined {
  return mergeQueryConfig(request.headers, request.rawQuery)['upstash-cron'];
}

/**
 * Creates a schedule, or replaces the one with the same `Upstash-Schedule-Id`, and tells the
 * runtime's trigger. With `Upstash-Deduplication-Id` or content-based deduplication, a duplicate
 * within the dedup window writes nothing and answers the schedule created first.
 *
 * @throws BadRequestError for an invalid cron (saying why), schedule id, queue name, destination
 *   or header; PayloadTooLargeError for a body over the limit.
 */
export async function createSchedule(
  deps: ScheduleDeps,
  request: PublishRequest & { readonly cron: string },
): Promise<CreatedSchedule> {
  const { config } = deps;
  const now = deps.clock.now();
  const cron = parseCron(request.cron);
  const headers = mergeQueryConfig(request.headers, request.rawQuery);
  const scheduleId = parseScheduleId(headers['upstash-schedule-id']) ?? deps.ids.scheduleId();
  const queueName = request.queueName ?? headers['upstash-queue-name'];
  const { destination, options } = validatePublish(config, { ...request, queueName }, now);
  const target = destination.kind === 'url' ? destination.url : destination.name;
  const nextScheduleTime = nextTickAfter(cron, now);
  const schedule: Schedule = {
    scheduleId,
    cron: cron.source,
    destination: target,
    headers: templateHeaders(headers),
    body: request.body,
    ...(queueName !== undefined && { queueName }),
    ...(request.callerIp !== undefined && { callerIp: request.callerIp }),
    createdAt: now,
    isPaused: false,
    ...(nextScheduleTime !== undefined && { nextScheduleTime }),
  };
  // What each tick will publish passes too, so a stored schedule is always publishable.
  validatePublish(config, tickRequest(schedule), now);
  // And the runtime can fire it (EventBridge cannot express every cron), before anything is stored.
  deps.trigger.validate?.(schedule);
  // The content hash covers the cron however it was given (header, query, argument).
  const hashed = { ...headers, 'upstash-cron': cron.source };
  const dedup: DedupClaim | undefined = options.dedup && {
    key: dedupKey(options.dedup, target, hashed, request.body),
    expiresAt: now + config.dedupWindowMs,
  };
  const result = await deps.schedules.putSchedule(schedule, dedup, now);
  if (!result.created) return { scheduleId: result.existingScheduleId, deduplicated: true };
  await deps.trigger.scheduleChanged(schedule);
  return { scheduleId, deduplicated: false };
}

/**
 * Fires the tick of `scheduleId` due at `tickTime`: publishes one fresh message from the
 * schedule's template, then records the tick and the next one, due after `tickTime` and now.
 *
 * Idempotent per tick: the publish claims the key `tick:<scheduleId>:<tickTime>`, so the same
 * tick fired twice (a crash between publishing and recording it, a trigger delivered twice)
 * creates one message, and a tick at or before the last recorded one is skipped outright.
 * A publish the core refuses (the URL group was deleted, the operator lowered a limit) is
 * recorded as the schedule's `error` and the schedule moves on; only faults of the stores
 * (which a retry may cure) are thrown.
 *
 * @returns `'fired'` when this call created the tick's message (one per endpoint of a group);
 *   `'skipped'` when the schedule is gone or paused, the tick had fired already, or its publish
 *   was refused.
 */
export async function fireSchedule(
  deps: ScheduleDeps,
  scheduleId: string,
  tickTime: number,
): Promise<TickOutcome> {
  const schedule = await deps.schedules.getSchedule(scheduleId);
  if (!schedule || schedule.isPaused) return 'skipped';
  if (schedule.lastScheduleTime !== undefined && tickTime <= schedule.lastScheduleTime) {
    return 'skipped';
  }
  let cron: CronSchedule;
  try {
    cron = parseCron(schedule.cron);
  } catch (error) {
    // Valid when stored; a time zone the runtime no longer knows ends the schedule's ticks.
    if (!(error instanceof QStashApiError)) throw error;
    await deps.schedules.recordTick(scheduleId, tickTime, undefined, error.message);
    return 'skipped';
  }
  const next = nextTickAfter(cron, Math.max(tickTime, deps.clock.now()));
  let fired = false;
  let refused: string | undefined;
  try {
    const result = await publishMessage(deps, {
      ...tickRequest(schedule),
      idempotencyKey: `tick:${scheduleId}:${tickTime}`,
      idempotencyExpiresAt: Math.max(tickTime + TICK_IDEMPOTENCY_MS, next ?? 0),
    });
    fired = (Array.isArray(result) ? result : [result]).some((message) => !message.deduplicated);
  } catch (error) {
    if (!(error instanceof QStashApiError)) throw error;
    refused = error.message;
  }
  await deps.schedules.recordTick(scheduleId, tickTime, next, refused);
  return fired ? 'fired' : 'skipped';
}

/**
 * The tick to fire now for a schedule that is due: the most recent fire time from its
 * `nextScheduleTime` to `now`. After downtime the missed ticks are not replayed: the latest one
 * fires once, and the schedule continues from now. Undefined when the schedule is paused or
 * not yet due.
 */
export function dueTickTime(schedule: Schedule, now: number): number | undefined {
  const due = schedule.nextScheduleTime;
  if (schedule.isPaused || due === undefined || due > now) return undefined;
  let cron: CronSchedule;
  try {
    cron = parseCron(schedule.cron);
  } catch (error) {
    // fireSchedule records why the stored cron no longer parses.
    if (error instanceof QStashApiError) return due;
    throw error;
  }
  const firesBy = (afterMs: number) => {
    const next = nextTickAfter(cron, afterMs);
    return next !== undefined && next <= now;
  };
  // Binary search for the last instant after which a fire time still falls by `now`: about 40
  // steps for any downtime, where stepping through every missed minute could take millions.
  let low = due - 1;
  if (!firesBy(low)) return due;
  let high = now;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (firesBy(middle)) low = middle;
    else high = middle;
  }
  return nextTickAfter(cron, low) ?? due;
}

/** The schedule, or a 404. */
export async function getSchedule(
  deps: Pick<ScheduleDeps, 'schedules'>,
  scheduleId: string,
): Promise<Schedule> {
  const schedule = await deps.schedules.getSchedule(scheduleId);
  if (!schedule) throw scheduleNotFound(scheduleId);
  return schedule;
}

/** Every schedule, oldest first. */
export async function listSchedules(deps: Pick<ScheduleDeps, 'schedules'>): Promise<Schedule[]> {
  return deps.schedules.listSchedules();
}

/** Deletes the schedule (a 404 when there is none); messages its ticks published stay. */
export async function deleteSchedule(
  deps: Pick<ScheduleDeps, 'schedules' | 'trigger'>,
  scheduleId: string,
): Promise<void> {
  if (!(await deps.schedules.deleteSchedule(scheduleId))) throw scheduleNotFound(scheduleId);
  await deps.trigger.scheduleDeleted(scheduleId);
}

/** Stops the schedule's ticks until it is resumed; idempotent, a 404 when there is none. */
export async function pauseSchedule(
  deps: Pick<ScheduleDeps, 'schedules' | 'trigger'>,
  scheduleId: string,
): Promise<void> {
  const schedule = await getSchedule(deps, scheduleId);
  if (schedule.isPaused) return;
  if (!(await deps.schedules.setPaused(scheduleId, true, undefined))) {
    throw scheduleNotFound(scheduleId);
  }
  const { nextScheduleTime: _cleared, ...rest } = schedule;
  await deps.trigger.scheduleChanged({ ...rest, isPaused: true });
}

/**
 * Resumes the schedule from now: the next tick is the first fire time after now, and ticks
 * missed while it was paused are not fired. Idempotent (a running schedule keeps its next
 * tick); a 404 when there is none.
 */
export async function resumeSchedule(
  deps: Pick<ScheduleDeps, 'schedules' | 'trigger' | 'clock'>,
  scheduleId: string,
): Promise<void> {
  const schedule = await getSchedule(deps, scheduleId);
  if (!schedule.isPaused) return;
  const nextScheduleTime = nextTickAfter(parseCron(schedule.cron), deps.clock.now());
  if (!(await deps.schedules.setPaused(scheduleId, false, nextScheduleTime))) {
    throw scheduleNotFound(scheduleId);
  }
  await deps.trigger.scheduleChanged({ ...schedule, isPaused: false, nextScheduleTime });
}

function scheduleNotFound(scheduleId: string): NotFoundError {
  return new NotFoundError(`schedule "${scheduleId}" not found`);
}

function parseScheduleId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!SCHEDULE_ID.test(value) || value.length > MAX_SCHEDULE_ID_LENGTH) {
    throw new BadRequestError(
      `invalid Upstash-Schedule-Id "${value}": use 1 to ${MAX_SCHEDULE_ID_LENGTH} letters, digits, "-", "_" or "."`,
    );
  }
  return value;
}

function nextTickAfter(cron: CronSchedule, afterMs: number): number | undefined {
  return nextFireTimes(cron, afterMs, 1)[0];
}

/**
 * The headers each tick publishes with: what configures its message (`Content-Type`, the
 * `Upstash-*` headers, and what `Upstash-Header-Forward: true` forwards), never the credentials,
 * the schedule's own headers, the deduplication or the SDK's telemetry headers.
 */
function templateHeaders(headers: IncomingHeaders): Record<string, string> {
  const forwardAll = headers['upstash-header-forward']?.trim().toLowerCase() === 'true';
  // No prototype: a header named "__proto__" is just a (useless) header.
  const template: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const kept = name.startsWith('upstash-')
      ? !SCHEDULE_HEADERS.has(name) &&
        !DEDUP_HEADERS.has(name) &&
        !name.startsWith(TELEMETRY_PREFIX)
      : name === 'content-type' || (forwardAll && isForwardedByHeaderForward(name));
    if (kept) template[name] = value;
  }
  return template;
}

/** The publish a tick of `schedule` makes. */
function tickRequest(schedule: Schedule): PublishRequest {
  return {
    rawDestination: schedule.destination,
    rawQuery: '',
    headers: schedule.headers,
    body: schedule.body,
    scheduleId: schedule.scheduleId,
    ...(schedule.callerIp !== undefined && { callerIp: schedule.callerIp }),
    ...(schedule.queueName !== undefined && { queueName: schedule.queueName }),
  };
}
