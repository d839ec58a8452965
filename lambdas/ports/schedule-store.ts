import type { DedupClaim } from './message-store';

/**
 * A cron schedule (`/v2/schedules`, or `Upstash-Cron` on a publish). It keeps the publish it
 * repeats (destination, QStash headers, body) exactly as received, so every tick goes through
 * the same validation and delivery path as a publish, and the API views are derived from it.
 */
export type Schedule = {
  readonly scheduleId: string;
  /** As given, trimmed, with its optional `CRON_TZ=<zone> ` prefix. */
  readonly cron: string;
  /** The URL (with its own query string) or URL group name, as `publishMessage` takes it. */
  readonly destination: string;
  /** The request headers that configure each message (lowercase; no auth, cron or dedup ones). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly queueName?: string;
  readonly callerIp?: string;
  readonly createdAt: number;
  readonly isPaused: boolean;
  /** When the last tick fired (its scheduled time, ms). */
  readonly lastScheduleTime?: number;
  /** When the next tick is due (ms); absent while paused. */
  readonly nextScheduleTime?: number;
  /**
   * Why the last tick published nothing (its publish was refused, e.g. the URL group was
   * deleted): QStash's `error` field. Cleared by the next tick that publishes.
   */
  readonly error?: string;
};

export type CreateScheduleResult =
  | { readonly created: true }
  | { readonly created: false; readonly existingScheduleId: string };

/** Where schedules live. */
export type ScheduleStore = {
  /**
   * Creates or replaces (same id: an upsert, as `Upstash-Schedule-Id` does) a schedule. With a
   * dedup claim, nothing is written when an unexpired claim holds the key, and its schedule id
   * is returned: deduplication runs before a schedule is created, never per tick.
   */
  putSchedule(
    schedule: Schedule,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<CreateScheduleResult>;
  getSchedule(scheduleId: string): Promise<Schedule | undefined>;
  /** All schedules, oldest first; `[]` when none. */
  listSchedules(): Promise<Schedule[]>;
  /** False when there was no such schedule. */
  deleteSchedule(scheduleId: string): Promise<boolean>;
  /** Pauses or resumes, setting `nextScheduleTime` as given; false when there is no such schedule. */
  setPaused(
    scheduleId: string,
    paused: boolean,
    nextScheduleTime: number | undefined,
  ): Promise<boolean>;
  /**
   * Records the tick that fired at `tickTime` (`lastScheduleTime`), when the next one is due,
   * and `error` (set when given, cleared when not). Nothing else changes. A schedule paused
   * meanwhile keeps no `nextScheduleTime`; a schedule deleted meanwhile stays deleted (a no-op).
   */
  recordTick(
    scheduleId: string,
    tickTime: number,
    nextScheduleTime: number | undefined,
    error?: string,
  ): Promise<void>;
};

/**
 * What makes a runtime fire a schedule's ticks: the embedded runner's timer, or one
 * EventBridge Scheduler schedule per sqstash schedule on AWS. Called after the store changed.
 */
export type ScheduleTrigger = {
  /**
   * Throws a BadRequestError when this runtime cannot fire `schedule` (EventBridge Scheduler
   * cannot express a cron whose day-of-month and day-of-week are both restricted). Called
   * before the schedule is stored, so a refused schedule leaves nothing behind. Optional: a
   * trigger that fires every valid cron (the embedded runner's) has nothing to check.
   */
  validate?(schedule: Schedule): void;
  /** The schedule was created, replaced, paused or resumed. */
  scheduleChanged(schedule: Schedule): Promise<void>;
  scheduleDeleted(scheduleId: string): Promise<void>;
};
