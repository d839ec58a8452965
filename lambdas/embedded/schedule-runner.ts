import type { SqliteScheduleStore } from '../adapters/embedded/sqlite-schedule-store';
import type { TickOutcome } from '../core/schedules';
import { dueTickTime } from '../core/schedules';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { Schedule, ScheduleTrigger } from '../ports/schedule-store';

/** Fires one tick: `fireSchedule` from core/schedules.ts, bound to the runtime's deps. */
export type FireTickFn = (scheduleId: string, tickTime: number) => Promise<TickOutcome>;

export type ScheduleRunnerOptions = {
  readonly store: Pick<SqliteScheduleStore, 'dueSchedules' | 'nextScheduleTimeAfter'>;
  readonly fire: FireTickFn;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * How much later a tick that hit a fault of the store (not a refused publish, which the core
   * records on the schedule) is tried again, so a persistent fault cannot spin. @default 5 s
   */
  readonly faultBackoffMs?: number;
};

// setTimeout's largest delay; a later tick is reached by waking up and looking again.
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_FAULT_BACKOFF_MS = 5_000;

/**
 * The embedded runtime's ScheduleTrigger: one timer, set for the earliest `nextScheduleTime`
 * of the running schedules in SQLite. It never polls; creating, replacing, pausing, resuming or
 * deleting a schedule re-arms it.
 *
 * On waking it fires every due schedule through `fireSchedule`. After downtime a schedule fires
 * its most recent missed tick once and continues from now (core `dueTickTime`); earlier missed
 * ticks are not replayed. The schedule's `nextScheduleTime` is recorded only after its tick
 * was published, so a crash in between fires that tick again on the next start, and the tick's
 * idempotency key turns the second publish into a no-op: no tick is lost, none doubles.
 */
export class ScheduleRunner implements ScheduleTrigger {
  readonly #options: ScheduleRunnerOptions;
  readonly #faultBackoffMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(options: ScheduleRunnerOptions) {
    this.#options = options;
    this.#faultBackoffMs = options.faultBackoffMs ?? DEFAULT_FAULT_BACKOFF_MS;
  }

  /** Fires the ticks that fell due while the server was down, then sleeps until the next. */
  start(): void {
    this.#started = true;
    this.#arm();
  }

  async scheduleChanged(_schedule: Schedule): Promise<void> {
    this.#arm();
  }

  async scheduleDeleted(_scheduleId: string): Promise<void> {
    this.#arm();
  }

  /** Stops the timer and waits for the ticks being fired, if any, to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * Sets the timer for the earliest tick, or for `retryAt` when a fault asked to try again
   * sooner. While ticks are being fired it does nothing: the run re-arms when it ends, from
   * the store's state at that moment, which includes every change made meanwhile.
   */
  #arm(retryAt?: number): void {
    if (!this.#started || this.#stopped || this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const { store, clock, logger } = this.#options;
    const now = clock.now();
    let wakeAt: number | undefined;
    try {
      wakeAt =
        retryAt === undefined
          ? store.nextScheduleTimeAfter()
          : Math.min(retryAt, store.nextScheduleTimeAfter(now) ?? retryAt);
    } catch (error) {
      logger.error('could not read the next schedule tick; retrying', { error: message(error) });
      wakeAt = now + this.#faultBackoffMs;
    }
    if (wakeAt === undefined) return;
    const delay = Math.min(Math.max(wakeAt - now, 0), MAX_TIMER_MS);
    this.#timer = setTimeout(() => this.#run(), delay);
  }

  #run(): void {
    this.#timer = undefined;
    const run = this.#fireDue();
    this.#running = run.then(() => undefined);
    void run.then((failed) => {
      this.#running = undefined;
      this.#arm(failed ? this.#options.clock.now() + this.#faultBackoffMs : undefined);
    });
  }

  /** Fires every due schedule once; resolves true when some tick hit a fault. */
  async #fireDue(): Promise<boolean> {
    const { store, fire, clock, logger } = this.#options;
    const now = clock.now();
    let due: Schedule[];
    try {
      due = store.dueSchedules(now);
    } catch (error) {
      logger.error('could not read the due schedules; retrying', { error: message(error) });
      return true;
    }
    let failed = false;
    for (const schedule of due) {
      if (this.#stopped) break;
      const { scheduleId } = schedule;
      const tickTime = dueTickTime(schedule, now) ?? schedule.nextScheduleTime ?? now;
      try {
        const outcome = await fire(scheduleId, tickTime);
        logger.info('schedule tick', { scheduleId, tickTime, outcome });
      } catch (error) {
        failed = true;
        logger.error('schedule tick could not be fired; retrying', {
          scheduleId,
          tickTime,
          error: message(error),
        });
      }
    }
    return failed;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
