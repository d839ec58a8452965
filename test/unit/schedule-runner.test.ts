import { SqliteScheduleStore } from '../../lambdas/adapters/embedded/sqlite-schedule-store';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { ScheduleDeps, TickOutcome } from '../../lambdas/core/schedules';
import { createSchedule, fireSchedule, pauseSchedule } from '../../lambdas/core/schedules';
import { ScheduleRunner } from '../../lambdas/embedded/schedule-runner';
import type { ScheduleStore } from '../../lambdas/ports/schedule-store';
import { eventually, memoryLogger } from '../helpers/embedded-server';
import { movingClock, T0 } from '../helpers/messages';
import type { PublishFixture } from '../helpers/publish-deps';
import { publishFixture } from '../helpers/publish-deps';

const MINUTE_MS = 60_000;
/** A minute boundary: every-minute schedules tick here. */
const BOUNDARY = T0 + 10 * MINUTE_MS;
const LEAD_MS = 150;
const QUIET_MS = 300;
const FAULT_BACKOFF_MS = 50;
const encoder = new TextEncoder();

type Fired = { scheduleId: string; tickTime: number; at: number; outcome: TickOutcome };

describe('Class: ScheduleRunner', () => {
  let fixture: PublishFixture;
  let schedules: SqliteScheduleStore;
  let clock: ReturnType<typeof movingClock>;
  let fired: Fired[];
  let runners: ScheduleRunner[];
  let deps: ScheduleDeps;

  /** A runner firing through the real core, recording each tick with the (test) time it fired. */
  function startRunner(
    options: { store?: ScheduleStore; failFirst?: number } = {},
  ): ScheduleRunner {
    let failures = options.failFirst ?? 0;
    const runner: ScheduleRunner = new ScheduleRunner({
      store: schedules,
      clock,
      logger: memoryLogger(),
      faultBackoffMs: FAULT_BACKOFF_MS,
      fire: async (scheduleId, tickTime) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('disk I/O error');
        }
        const tickDeps = {
          ...deps,
          schedules: options.store ?? schedules,
          trigger: runner,
        };
        const outcome = await fireSchedule(tickDeps, scheduleId, tickTime);
        fired.push({ scheduleId, tickTime, at: clock.now(), outcome });
        return outcome;
      },
    });
    deps = { ...deps, trigger: runner };
    runners.push(runner);
    runner.start();
    return runner;
  }

  async function everyMinute(headers: Record<string, string> = {}): Promise<string> {
    const { scheduleId } = await createSchedule(deps, {
      rawDestination: 'https://example.com/hook',
      rawQuery: '',
      headers,
      body: encoder.encode('tick'),
      cron: '* * * * *',
    });
    return scheduleId;
  }

  const messageCount = () =>
    (fixture.db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;

  beforeEach(() => {
    fixture = publishFixture(DEFAULT_CORE_CONFIG);
    schedules = new SqliteScheduleStore(fixture.db);
    clock = movingClock(BOUNDARY - LEAD_MS);
    fired = [];
    runners = [];
    const noTrigger = { scheduleChanged: async () => {}, scheduleDeleted: async () => {} };
    deps = { ...fixture.deps, clock, schedules, trigger: noTrigger };
  });
  afterEach(async () => {
    for (const runner of runners) await runner.stop();
    fixture.cleanup();
  });

  it('sleeps until the next tick, fires it on time, then sleeps until the one after', async () => {
    startRunner();
    const scheduleId = await everyMinute();

    await eventually(() => expect(fired).toHaveLength(1), 2_000);

    expect(fired[0]).toMatchObject({ scheduleId, tickTime: BOUNDARY, outcome: 'fired' });
    expect(fired[0]!.at).toBeGreaterThanOrEqual(BOUNDARY);
    expect(fired[0]!.at).toBeLessThan(BOUNDARY + 500);
    expect(await schedules.getSchedule(scheduleId)).toMatchObject({
      lastScheduleTime: BOUNDARY,
      nextScheduleTime: BOUNDARY + MINUTE_MS,
    });
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    expect(fired).toHaveLength(1);
    expect(messageCount()).toBe(1);
  });

  it('fires the most recent missed tick once after downtime, then continues from now', async () => {
    const scheduleId = await everyMinute();
    clock.set(BOUNDARY + 5 * MINUTE_MS + 30_000);

    startRunner();

    await eventually(() => expect(fired).toHaveLength(1), 2_000);
    expect(fired[0]).toMatchObject({ tickTime: BOUNDARY + 5 * MINUTE_MS, outcome: 'fired' });
    expect((await schedules.getSchedule(scheduleId))?.nextScheduleTime).toBe(
      BOUNDARY + 6 * MINUTE_MS,
    );
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    expect(fired).toHaveLength(1);
  });

  it('re-fires a tick whose recording a crash lost, publishing it once', async () => {
    const scheduleId = await everyMinute();
    const crashing: ScheduleStore = {
      putSchedule: (...args) => schedules.putSchedule(...args),
      getSchedule: (id) => schedules.getSchedule(id),
      listSchedules: () => schedules.listSchedules(),
      deleteSchedule: (id) => schedules.deleteSchedule(id),
      setPaused: (...args) => schedules.setPaused(...args),
      recordTick: async () => {
        throw new Error('the process died');
      },
    };
    const first = startRunner({ store: crashing });
    await eventually(() => expect(messageCount()).toBe(1), 2_000);
    await first.stop();

    startRunner();

    await eventually(() => expect(fired).toHaveLength(1), 2_000);
    expect(fired[0]).toMatchObject({ tickTime: BOUNDARY, outcome: 'skipped' });
    expect(messageCount()).toBe(1);
    expect(await schedules.getSchedule(scheduleId)).toMatchObject({
      lastScheduleTime: BOUNDARY,
      nextScheduleTime: BOUNDARY + MINUTE_MS,
    });
  });

  it('never fires a paused or a deleted schedule', async () => {
    startRunner();
    const paused = await everyMinute();
    const deleted = await everyMinute();

    await pauseSchedule(deps, paused);
    await schedules.deleteSchedule(deleted);
    await deps.trigger.scheduleDeleted(deleted);
    await new Promise((resolve) => setTimeout(resolve, LEAD_MS + QUIET_MS));

    expect(fired).toEqual([]);
    expect(messageCount()).toBe(0);
  });

  it('tries a tick that hit a fault of the store again, soon, without spinning', async () => {
    startRunner({ failFirst: 2 });
    await everyMinute();

    await eventually(() => expect(fired).toHaveLength(1), 2_000);

    expect(fired[0]).toMatchObject({ tickTime: BOUNDARY, outcome: 'fired' });
    expect(fired[0]!.at).toBeGreaterThanOrEqual(BOUNDARY + 2 * FAULT_BACKOFF_MS);
  });

  it('fires nothing once stopped', async () => {
    const runner = startRunner();
    await everyMinute();

    await runner.stop();
    await new Promise((resolve) => setTimeout(resolve, LEAD_MS + QUIET_MS));

    expect(fired).toEqual([]);
    expect(messageCount()).toBe(0);
  });
});
