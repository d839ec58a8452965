import { SqliteScheduleStore } from '../../lambdas/adapters/embedded/sqlite-schedule-store';
import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../../lambdas/core/errors';
import type { PublishRequest } from '../../lambdas/core/publish';
import type { ScheduleDeps } from '../../lambdas/core/schedules';
import {
  createSchedule,
  deleteSchedule,
  dueTickTime,
  fireSchedule,
  getSchedule,
  listSchedules,
  pauseSchedule,
  resumeSchedule,
  scheduleCron,
} from '../../lambdas/core/schedules';
import type { Schedule, ScheduleStore, ScheduleTrigger } from '../../lambdas/ports/schedule-store';
import { T0 } from '../helpers/messages';
import type { PublishFixture } from '../helpers/publish-deps';
import { publishFixture } from '../helpers/publish-deps';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const DESTINATION = 'https://example.com/hook';
const MAX_BODY_BYTES = 64;
const CONFIG: CoreConfig = { ...DEFAULT_CORE_CONFIG, maxBodyBytes: MAX_BODY_BYTES };
const encoder = new TextEncoder();

/** A ScheduleTrigger that records what it was told. */
function recordingTrigger(): ScheduleTrigger & { changed: Schedule[]; deleted: string[] } {
  const changed: Schedule[] = [];
  const deleted: string[] = [];
  return {
    changed,
    deleted,
    async scheduleChanged(schedule) {
      changed.push(schedule);
    },
    async scheduleDeleted(scheduleId) {
      deleted.push(scheduleId);
    },
  };
}

function request(
  overrides: Partial<PublishRequest> = {},
  cron = '*/5 * * * *',
): PublishRequest & { cron: string } {
  return {
    rawDestination: DESTINATION,
    rawQuery: '',
    headers: { 'content-type': 'application/json' },
    body: encoder.encode('{"n":1}'),
    cron,
    ...overrides,
  };
}

describe('core/schedules', () => {
  let fixture: PublishFixture;
  let schedules: SqliteScheduleStore;
  let trigger: ReturnType<typeof recordingTrigger>;
  let deps: ScheduleDeps;

  const messages = () =>
    fixture.db.prepare('SELECT id FROM messages ORDER BY rowid').all() as { id: string }[];

  beforeEach(() => {
    fixture = publishFixture(CONFIG);
    schedules = new SqliteScheduleStore(fixture.db);
    trigger = recordingTrigger();
    deps = { ...fixture.deps, schedules, trigger };
  });
  afterEach(() => {
    fixture.cleanup();
  });

  describe('Function: createSchedule', () => {
    it('stores the publish it repeats, with its first tick, and tells the trigger', async () => {
      const created = await createSchedule(
        deps,
        request(
          {
            rawQuery: 'tenant=a&upstash-retries=1',
            headers: {
              authorization: 'Bearer secret',
              'content-type': 'text/plain',
              'upstash-forward-x-trace': 't-1',
              'upstash-label': 'nightly',
              'upstash-telemetry-sdk': 'upstash-qstash-js@v2.12.0',
              'upstash-cron': ' */5 * * * * ',
            },
            callerIp: '203.0.113.7',
          },
          ' */5 * * * * ',
        ),
      );

      const expected: Schedule = {
        scheduleId: 'scd_1',
        cron: '*/5 * * * *',
        destination: `${DESTINATION}?tenant=a`,
        headers: {
          'upstash-retries': '1',
          'content-type': 'text/plain',
          'upstash-forward-x-trace': 't-1',
          'upstash-label': 'nightly',
        },
        body: Buffer.from('{"n":1}'),
        callerIp: '203.0.113.7',
        createdAt: T0,
        isPaused: false,
        nextScheduleTime: T0 + 5 * MINUTE_MS,
      };
      expect(created).toEqual({ scheduleId: 'scd_1', deduplicated: false });
      expect({ ...(await schedules.getSchedule('scd_1')) }).toEqual(expected);
      expect(trigger.changed.map((schedule) => schedule.scheduleId)).toEqual(['scd_1']);
      expect(messages()).toEqual([]);
    });

    it('keeps what Upstash-Header-Forward forwards, never the credentials', async () => {
      await createSchedule(
        deps,
        request({
          headers: {
            authorization: 'Bearer secret',
            host: 'qstash.local',
            'upstash-header-forward': 'true',
            'x-webhook-id': 'w-1',
          },
        }),
      );

      expect((await schedules.getSchedule('scd_1'))?.headers).toEqual({
        'upstash-header-forward': 'true',
        'x-webhook-id': 'w-1',
      });
    });

    it.each([
      ['61 * * * *', 'minute 61 is out of range 0-59'],
      ['* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
      ['0 * * * * *', 'a seconds field is not supported'],
      ['@daily', 'write "0 0 * * *"'],
      ['CRON_TZ=Mars/Olympus 0 4 * * *', 'unknown time zone "Mars/Olympus"'],
      ['', 'the value is empty'],
    ])('refuses the cron "%s" with a 400 that says why, storing nothing', async (cron, why) => {
      const creating = createSchedule(deps, request({}, cron));

      await expect(creating).rejects.toThrow(BadRequestError);
      await expect(creating).rejects.toThrow(`invalid Upstash-Cron "${cron.trim()}": `);
      await expect(creating).rejects.toThrow(why);
      expect(await schedules.listSchedules()).toEqual([]);
      expect(trigger.changed).toEqual([]);
    });

    it('reads a CRON_TZ= prefix and keeps it in the cron shown', async () => {
      await createSchedule(deps, request({}, 'CRON_TZ=America/New_York 0 4 * * *'));

      const stored = await schedules.getSchedule('scd_1');
      expect(stored?.cron).toBe('CRON_TZ=America/New_York 0 4 * * *');
      // 04:00 in New York on 2025-01-01 (EST, UTC-5) is 09:00 UTC.
      expect(stored?.nextScheduleTime).toBe(T0 + 9 * HOUR_MS);
    });

    it('uses a valid Upstash-Schedule-Id', async () => {
      const created = await createSchedule(
        deps,
        request({ headers: { 'upstash-schedule-id': 'nightly.report_v2-1' } }),
      );

      expect(created.scheduleId).toBe('nightly.report_v2-1');
      expect(await schedules.getSchedule('nightly.report_v2-1')).toBeDefined();
    });

    it.each([
      ['with a space', 'a b'],
      ['with a slash', 'a/b'],
      ['with a colon', 'a:b'],
      ['empty', ''],
      ['of 129 characters', 'x'.repeat(129)],
    ])('refuses an Upstash-Schedule-Id %s with a 400', async (_case, id) => {
      const creating = createSchedule(deps, request({ headers: { 'upstash-schedule-id': id } }));

      await expect(creating).rejects.toThrow(BadRequestError);
      await expect(creating).rejects.toThrow(`invalid Upstash-Schedule-Id "${id}"`);
      expect(await schedules.listSchedules()).toEqual([]);
    });

    it('overwrites the schedule of a reused id: template, cron, createdAt, paused and run state', async () => {
      const headers = { 'upstash-schedule-id': 'report' };
      await createSchedule(deps, request({ headers }));
      await pauseSchedule(deps, 'report');
      await schedules.recordTick('report', T0, undefined, 'refused');
      fixture.clock.set(T0 + HOUR_MS);

      await createSchedule(
        deps,
        request(
          { rawDestination: 'https://example.org/new', headers, body: new Uint8Array() },
          '0 * * * *',
        ),
      );

      const listed = await schedules.listSchedules();
      expect(listed).toHaveLength(1);
      expect({ ...listed[0]!, body: Buffer.from(listed[0]!.body) }).toEqual({
        scheduleId: 'report',
        cron: '0 * * * *',
        destination: 'https://example.org/new',
        headers: {},
        body: Buffer.alloc(0),
        createdAt: T0 + HOUR_MS,
        isPaused: false,
        nextScheduleTime: T0 + 2 * HOUR_MS,
      });
    });

    it('takes the queue from Upstash-Queue-Name, or from /v2/enqueue/{queue} first', async () => {
      await createSchedule(deps, request({ headers: { 'upstash-queue-name': 'from-header' } }));
      await createSchedule(
        deps,
        request({ headers: { 'upstash-queue-name': 'from-header' }, queueName: 'from-path' }),
      );

      expect((await schedules.listSchedules()).map((s) => s.queueName)).toEqual([
        'from-header',
        'from-path',
      ]);
    });

    it.each([
      [
        'a destination that is not a URL or group name',
        { rawDestination: 'ftp://x' },
        'destination',
      ],
      ['a header a publish refuses', { headers: { 'upstash-retries': '99' } }, 'Upstash-Retries'],
      [
        'a queue name a publish refuses',
        { headers: { 'upstash-queue-name': 'a b' } },
        'queue name',
      ],
      [
        'Upstash-Not-Before too far ahead',
        { headers: { 'upstash-not-before': String((T0 + 2 * 365 * DAY_MS) / 1000) } },
        'Upstash-Not-Before',
      ],
      [
        'a callback that is not a URL',
        { headers: { 'upstash-callback': 'nope' } },
        'Upstash-Callback',
      ],
    ])(
      'refuses %s with a 400, as a publish would, storing nothing',
      async (_case, overrides, what) => {
        const creating = createSchedule(deps, request(overrides));

        await expect(creating).rejects.toThrow(BadRequestError);
        await expect(creating).rejects.toThrow(what);
        expect(await schedules.listSchedules()).toEqual([]);
      },
    );

    it('refuses a body over the limit with a 413', async () => {
      const creating = createSchedule(deps, request({ body: new Uint8Array(MAX_BODY_BYTES + 1) }));

      await expect(creating).rejects.toThrow(PayloadTooLargeError);
    });

    it("stores nothing when the runtime's trigger cannot fire the schedule", async () => {
      const refusing = {
        ...trigger,
        validate: () => {
          throw new BadRequestError('this runtime cannot fire that cron');
        },
      };

      const creating = createSchedule({ ...deps, trigger: refusing }, request());

      await expect(creating).rejects.toThrow('this runtime cannot fire that cron');
      expect(await schedules.listSchedules()).toEqual([]);
      expect(trigger.changed).toEqual([]);
    });

    it('accepts a URL group that does not exist yet: it is looked up per tick', async () => {
      const created = await createSchedule(deps, request({ rawDestination: 'later-group' }));

      expect((await schedules.getSchedule(created.scheduleId))?.destination).toBe('later-group');
    });

    it('deduplicates before creating: a repeated Upstash-Deduplication-Id creates nothing', async () => {
      const headers = { 'upstash-deduplication-id': 'nightly' };
      const first = await createSchedule(deps, request({ headers }));

      const second = await createSchedule(
        deps,
        request({ headers, rawDestination: 'https://example.org/other' }),
      );

      expect(first).toEqual({ scheduleId: 'scd_1', deduplicated: false });
      expect(second).toEqual({ scheduleId: 'scd_1', deduplicated: true });
      expect((await schedules.listSchedules()).map((s) => s.destination)).toEqual([DESTINATION]);
      expect(trigger.changed).toHaveLength(1);
    });

    it('deduplicates on content: the same schedule twice, but not another cron', async () => {
      const headers = { 'upstash-content-based-deduplication': 'true' };

      const first = await createSchedule(deps, request({ headers }, '0 4 * * *'));
      const again = await createSchedule(deps, request({ headers }, '0 4 * * *'));
      const other = await createSchedule(deps, request({ headers }, '0 5 * * *'));

      expect(again).toEqual({ scheduleId: first.scheduleId, deduplicated: true });
      expect(other.deduplicated).toBe(false);
      expect(await schedules.listSchedules()).toHaveLength(2);
    });

    it('keeps no dedup header on the schedule: its ticks are not deduplicated', async () => {
      await createSchedule(
        deps,
        request({
          headers: {
            'upstash-deduplication-id': 'nightly',
            'upstash-content-based-deduplication': 'true',
          },
        }),
      );

      expect((await schedules.getSchedule('scd_1'))?.headers).toEqual({});
    });
  });

  describe('Function: fireSchedule', () => {
    const TICK = T0 + 5 * MINUTE_MS;

    async function created(overrides: Partial<PublishRequest> = {}, cron?: string) {
      const { scheduleId } = await createSchedule(deps, request(overrides, cron));
      fixture.clock.set(TICK);
      return scheduleId;
    }

    it('publishes one fresh message with the schedule id, and records the tick', async () => {
      const scheduleId = await created({
        headers: {
          'content-type': 'text/plain',
          'upstash-forward-x-trace': 't-1',
          'upstash-label': 'nightly',
          'upstash-queue-name': 'reports',
        },
        callerIp: '203.0.113.7',
      });

      const outcome = await fireSchedule(deps, scheduleId, TICK);

      expect(outcome).toBe('fired');
      expect(messages()).toEqual([{ id: 'msg_1' }]);
      expect(await fixture.store.getMessage('msg_1')).toMatchObject({
        url: DESTINATION,
        header: { 'Content-Type': ['text/plain'], 'X-Trace': ['t-1'] },
        body: Buffer.from('{"n":1}'),
        labels: ['nightly'],
        scheduleId,
        callerIp: '203.0.113.7',
        queueName: 'reports',
        notBefore: TICK,
        createdAt: TICK,
      });
      expect((await fixture.store.getMessage('msg_1'))?.deduplicationId).toBeUndefined();
      expect(await schedules.getSchedule(scheduleId)).toMatchObject({
        lastScheduleTime: TICK,
        nextScheduleTime: TICK + 5 * MINUTE_MS,
      });
    });

    it('creates a new message id on every tick, though the schedule has a dedup id', async () => {
      const scheduleId = await created({ headers: { 'upstash-deduplication-id': 'once' } });

      await fireSchedule(deps, scheduleId, TICK);
      fixture.clock.set(TICK + 5 * MINUTE_MS);
      await fireSchedule(deps, scheduleId, TICK + 5 * MINUTE_MS);

      expect(messages()).toEqual([{ id: 'msg_1' }, { id: 'msg_2' }]);
    });

    it('publishes a tick once when it is fired twice', async () => {
      const scheduleId = await created();

      const first = await fireSchedule(deps, scheduleId, TICK);
      const second = await fireSchedule(deps, scheduleId, TICK);

      expect([first, second]).toEqual(['fired', 'skipped']);
      expect(messages()).toHaveLength(1);
    });

    it('publishes a tick once when a crash lost its recording, and records it on the re-fire', async () => {
      const scheduleId = await created();
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

      await expect(
        fireSchedule({ ...deps, schedules: crashing }, scheduleId, TICK),
      ).rejects.toThrow('the process died');
      const unrecorded = await schedules.getSchedule(scheduleId);
      const again = await fireSchedule(deps, scheduleId, TICK);

      expect(unrecorded?.nextScheduleTime).toBe(TICK);
      expect(again).toBe('skipped');
      expect(messages()).toHaveLength(1);
      expect(await schedules.getSchedule(scheduleId)).toMatchObject({
        lastScheduleTime: TICK,
        nextScheduleTime: TICK + 5 * MINUTE_MS,
      });
    });

    it('skips a paused schedule, publishing and recording nothing', async () => {
      const scheduleId = await created();
      await pauseSchedule(deps, scheduleId);

      const outcome = await fireSchedule(deps, scheduleId, TICK);

      expect(outcome).toBe('skipped');
      expect(messages()).toEqual([]);
      expect((await schedules.getSchedule(scheduleId))?.lastScheduleTime).toBeUndefined();
    });

    it('skips a schedule that does not exist', async () => {
      expect(await fireSchedule(deps, 'scd_missing', TICK)).toBe('skipped');
      expect(messages()).toEqual([]);
    });

    it('skips a tick at or before the last one recorded', async () => {
      const scheduleId = await created();
      await fireSchedule(deps, scheduleId, TICK);

      const outcome = await fireSchedule(deps, scheduleId, TICK - 5 * MINUTE_MS);

      expect(outcome).toBe('skipped');
      expect(messages()).toHaveLength(1);
      expect((await schedules.getSchedule(scheduleId))?.lastScheduleTime).toBe(TICK);
    });

    it('schedules the next tick after now when the tick fires late', async () => {
      const scheduleId = await created();
      fixture.clock.set(TICK + 12 * MINUTE_MS);

      await fireSchedule(deps, scheduleId, TICK);

      expect((await schedules.getSchedule(scheduleId))?.nextScheduleTime).toBe(
        TICK + 15 * MINUTE_MS,
      );
    });

    it('records a refused publish as the error and moves on; a later tick clears it', async () => {
      const scheduleId = await created({ rawDestination: 'reports' });

      const refused = await fireSchedule(deps, scheduleId, TICK);
      const failed = await schedules.getSchedule(scheduleId);
      await fixture.urlGroups.upsertEndpoints('reports', [{ url: `${DESTINATION}/a` }], TICK);
      fixture.clock.set(TICK + 5 * MINUTE_MS);
      const fired = await fireSchedule(deps, scheduleId, TICK + 5 * MINUTE_MS);

      expect(refused).toBe('skipped');
      expect(failed).toMatchObject({
        lastScheduleTime: TICK,
        nextScheduleTime: TICK + 5 * MINUTE_MS,
        error: expect.stringContaining('"reports"'),
      });
      expect(fired).toBe('fired');
      expect((await schedules.getSchedule(scheduleId))?.error).toBeUndefined();
    });

    it('fans a URL group tick out to every endpoint once, however often it is fired', async () => {
      await fixture.urlGroups.upsertEndpoints(
        'reports',
        [{ url: `${DESTINATION}/a` }, { url: `${DESTINATION}/b` }],
        T0,
      );
      const scheduleId = await created({ rawDestination: 'reports' });

      await fireSchedule(deps, scheduleId, TICK);
      await fireSchedule(deps, scheduleId, TICK);

      expect(messages()).toHaveLength(2);
      expect((await fixture.store.getMessage('msg_2'))?.topicName).toBe('reports');
    });
  });

  describe('Function: dueTickTime', () => {
    const base: Schedule = {
      scheduleId: 'scd_1',
      cron: '*/5 * * * *',
      destination: DESTINATION,
      headers: {},
      body: new Uint8Array(),
      createdAt: T0,
      isPaused: false,
      nextScheduleTime: T0 + 5 * MINUTE_MS,
    };

    it('is undefined before the next tick, and for a paused schedule', () => {
      expect(dueTickTime(base, T0 + 5 * MINUTE_MS - 1)).toBeUndefined();
      expect(dueTickTime({ ...base, isPaused: true }, T0 + HOUR_MS)).toBeUndefined();
    });

    it('is the next tick when it is due', () => {
      expect(dueTickTime(base, T0 + 5 * MINUTE_MS)).toBe(T0 + 5 * MINUTE_MS);
      expect(dueTickTime(base, T0 + 9 * MINUTE_MS)).toBe(T0 + 5 * MINUTE_MS);
    });

    it('is the most recent missed tick after downtime', () => {
      expect(dueTickTime(base, T0 + 23 * MINUTE_MS)).toBe(T0 + 20 * MINUTE_MS);
    });

    it('finds it quickly after a year of downtime of an every-minute schedule', () => {
      const everyMinute = { ...base, cron: '* * * * *', nextScheduleTime: T0 + MINUTE_MS };
      const now = T0 + 365 * DAY_MS + 30_000;

      const started = performance.now();
      const tick = dueTickTime(everyMinute, now);

      expect(tick).toBe(T0 + 365 * DAY_MS);
      expect(performance.now() - started).toBeLessThan(1_000);
    });
  });

  describe('Functions: pause, resume, delete, get, list', () => {
    it('pauses (idempotently), clearing the next tick, and tells the trigger', async () => {
      const { scheduleId } = await createSchedule(deps, request());

      await pauseSchedule(deps, scheduleId);
      await pauseSchedule(deps, scheduleId);

      const paused = await getSchedule(deps, scheduleId);
      expect(paused.isPaused).toBe(true);
      expect(paused.nextScheduleTime).toBeUndefined();
      expect(trigger.changed.map((s) => s.isPaused)).toEqual([false, true]);
      expect(trigger.changed[1]?.nextScheduleTime).toBeUndefined();
    });

    it('resumes (idempotently) from now, skipping the ticks missed while paused', async () => {
      const { scheduleId } = await createSchedule(deps, request());
      await pauseSchedule(deps, scheduleId);
      fixture.clock.set(T0 + HOUR_MS + MINUTE_MS);

      await resumeSchedule(deps, scheduleId);
      await resumeSchedule(deps, scheduleId);

      const resumed = await getSchedule(deps, scheduleId);
      expect(resumed.isPaused).toBe(false);
      expect(resumed.nextScheduleTime).toBe(T0 + HOUR_MS + 5 * MINUTE_MS);
      expect(trigger.changed.map((s) => s.isPaused)).toEqual([false, true, false]);
      expect(trigger.changed[2]?.nextScheduleTime).toBe(T0 + HOUR_MS + 5 * MINUTE_MS);
    });

    it('deletes, telling the trigger; the messages its ticks published stay', async () => {
      const { scheduleId } = await createSchedule(deps, request());
      await fireSchedule(deps, scheduleId, T0 + 5 * MINUTE_MS);

      await deleteSchedule(deps, scheduleId);

      expect(await listSchedules(deps)).toEqual([]);
      expect(trigger.deleted).toEqual([scheduleId]);
      expect(messages()).toHaveLength(1);
    });

    it.each([
      ['get', (id: string) => getSchedule(deps, id)],
      ['delete', (id: string) => deleteSchedule(deps, id)],
      ['pause', (id: string) => pauseSchedule(deps, id)],
      ['resume', (id: string) => resumeSchedule(deps, id)],
    ])('answers 404 to %s of a schedule that does not exist', async (_name, act) => {
      const acting = act('scd_missing');

      await expect(acting).rejects.toThrow(NotFoundError);
      await expect(acting).rejects.toThrow('schedule "scd_missing" not found');
    });
  });

  describe('Function: scheduleCron', () => {
    it('reads Upstash-Cron from the headers, or from the query string', () => {
      expect(scheduleCron(request({ headers: { 'upstash-cron': '0 4 * * *' } }))).toBe('0 4 * * *');
      expect(scheduleCron(request({ rawQuery: 'x=1&upstash-cron=0+4+*+*+*' }))).toBe('0 4 * * *');
      expect(scheduleCron(request())).toBeUndefined();
    });
  });
});
