import type { Schedule, ScheduleStore } from '../../lambdas/ports/schedule-store';
import { T0 } from '../helpers/messages';

export type ScheduleStoreFixture = {
  store: ScheduleStore;
  cleanup(): Promise<void>;
};

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const LATER = T0 + HOUR_MS;
const MIB = 1024 * 1024;
const encoder = new TextEncoder();

/** A minimal running schedule; override what the test is about. */
export function makeSchedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    scheduleId: 'scd_1',
    cron: '*/5 * * * *',
    destination: 'https://example.com/hook?tenant=a',
    headers: { 'content-type': 'application/json', 'upstash-retries': '2' },
    body: encoder.encode('{"hello":"world"}'),
    createdAt: T0,
    isPaused: false,
    nextScheduleTime: T0 + 5 * MINUTE_MS,
    ...overrides,
  };
}

/** Compares bodies as bytes, whatever Uint8Array subclass the adapter returns. */
function normalized(schedule: Schedule | undefined): unknown {
  return schedule && { ...schedule, body: Buffer.from(schedule.body) };
}

/**
 * The ScheduleStore port's documented behaviour, run against every adapter: storage, upsert,
 * the dedup claim made before a schedule is created, pause and resume, and recorded ticks.
 */
export function describeScheduleStoreContract(
  name: string,
  makeFixture: () => Promise<ScheduleStoreFixture>,
): void {
  describe(`ScheduleStore contract: ${name}`, () => {
    let fixture: ScheduleStoreFixture;
    let store: ScheduleStore;
    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('Method: putSchedule / getSchedule', () => {
      it('stores every field and returns the schedule as put', async () => {
        const schedule = makeSchedule({
          queueName: 'orders',
          callerIp: '203.0.113.7',
          headers: {
            'content-type': 'text/plain',
            'upstash-forward-x-trace': 'a, b',
            'upstash-label': 'billing,nightly',
          },
          lastScheduleTime: T0 - MINUTE_MS,
          error: 'URL group "gone" not found',
        });

        const result = await store.putSchedule(schedule, undefined, T0);

        expect(result).toEqual({ created: true });
        expect(normalized(await store.getSchedule('scd_1'))).toEqual(normalized(schedule));
      });

      it('keeps a body byte for byte, including bytes that are not UTF-8', async () => {
        const body = new Uint8Array([0, 255, 254, 10, 13, 0x80]);

        await store.putSchedule(makeSchedule({ body }), undefined, T0);

        expect(Buffer.from((await store.getSchedule('scd_1'))!.body)).toEqual(Buffer.from(body));
      });

      it('keeps an empty body and a body of 1 MiB', async () => {
        const large = new Uint8Array(MIB).map((_, i) => i % 251);

        await store.putSchedule(makeSchedule({ body: new Uint8Array() }), undefined, T0);
        await store.putSchedule(
          makeSchedule({ scheduleId: 'scd_large', body: large }),
          undefined,
          T0,
        );

        expect((await store.getSchedule('scd_1'))!.body.byteLength).toBe(0);
        const stored = (await store.getSchedule('scd_large'))!.body;
        // Compared as one boolean: a deep equality over a million elements takes seconds.
        expect(stored.byteLength).toBe(MIB);
        expect(Buffer.from(stored).equals(Buffer.from(large))).toBe(true);
      });

      it('returns undefined for a schedule that does not exist', async () => {
        expect(await store.getSchedule('scd_missing')).toBeUndefined();
      });

      it('returns a paused schedule without a next tick', async () => {
        const { nextScheduleTime: _none, ...paused } = makeSchedule({ isPaused: true });

        await store.putSchedule(paused, undefined, T0);

        const stored = await store.getSchedule('scd_1');
        expect(stored?.isPaused).toBe(true);
        expect(stored?.nextScheduleTime).toBeUndefined();
      });

      it('replaces every field of a schedule put again under its id', async () => {
        await store.putSchedule(
          makeSchedule({
            queueName: 'orders',
            callerIp: '203.0.113.7',
            lastScheduleTime: T0,
            error: 'old',
          }),
          undefined,
          T0,
        );
        const replacement = makeSchedule({
          cron: '0 4 * * *',
          destination: 'https://example.org/other',
          headers: { 'upstash-method': 'PUT' },
          body: new Uint8Array(),
          createdAt: LATER,
          nextScheduleTime: LATER + HOUR_MS,
        });

        const result = await store.putSchedule(replacement, undefined, LATER);

        expect(result).toEqual({ created: true });
        expect(normalized(await store.getSchedule('scd_1'))).toEqual(normalized(replacement));
        expect(await store.listSchedules()).toHaveLength(1);
      });
    });

    describe('Method: putSchedule with a dedup claim', () => {
      const claim = { key: 'id:nightly-report', expiresAt: LATER };

      it('creates the schedule and claims the key when no claim holds it', async () => {
        const result = await store.putSchedule(makeSchedule(), claim, T0);

        expect(result).toEqual({ created: true });
        expect(await store.getSchedule('scd_1')).toBeDefined();
      });

      it('writes nothing and names the holder while an unexpired claim holds the key', async () => {
        await store.putSchedule(makeSchedule(), claim, T0);

        const result = await store.putSchedule(
          makeSchedule({ scheduleId: 'scd_2', destination: 'https://example.org/dup' }),
          { key: claim.key, expiresAt: LATER + HOUR_MS },
          T0 + MINUTE_MS,
        );

        expect(result).toEqual({ created: false, existingScheduleId: 'scd_1' });
        expect(await store.getSchedule('scd_2')).toBeUndefined();
        expect((await store.listSchedules()).map((s) => s.scheduleId)).toEqual(['scd_1']);
      });

      it('does not replace a schedule of the same id when the claim is a duplicate', async () => {
        await store.putSchedule(makeSchedule(), claim, T0);

        await store.putSchedule(
          makeSchedule({ destination: 'https://example.org/dup' }),
          claim,
          T0 + MINUTE_MS,
        );

        expect((await store.getSchedule('scd_1'))?.destination).toBe(makeSchedule().destination);
      });

      it('creates again, and takes the claim over, once the claim has expired', async () => {
        await store.putSchedule(makeSchedule(), claim, T0);
        const second = makeSchedule({ scheduleId: 'scd_2' });

        const result = await store.putSchedule(
          second,
          { key: claim.key, expiresAt: LATER + HOUR_MS },
          LATER,
        );
        const third = await store.putSchedule(
          makeSchedule({ scheduleId: 'scd_3' }),
          claim,
          LATER + MINUTE_MS,
        );

        expect(result).toEqual({ created: true });
        expect(third).toEqual({ created: false, existingScheduleId: 'scd_2' });
      });

      it('lets different keys create different schedules', async () => {
        await store.putSchedule(makeSchedule(), claim, T0);

        const result = await store.putSchedule(
          makeSchedule({ scheduleId: 'scd_2' }),
          { key: 'id:other', expiresAt: LATER },
          T0,
        );

        expect(result).toEqual({ created: true });
      });

      it('still answers the holder after the schedule it created was deleted', async () => {
        await store.putSchedule(makeSchedule(), claim, T0);
        await store.deleteSchedule('scd_1');

        const result = await store.putSchedule(makeSchedule({ scheduleId: 'scd_2' }), claim, T0);

        expect(result).toEqual({ created: false, existingScheduleId: 'scd_1' });
      });
    });

    describe('Method: listSchedules', () => {
      it('returns [] when there are none', async () => {
        expect(await store.listSchedules()).toEqual([]);
      });

      it('returns every schedule, oldest first', async () => {
        await store.putSchedule(
          makeSchedule({ scheduleId: 'b', createdAt: T0 + 2 }),
          undefined,
          T0,
        );
        await store.putSchedule(makeSchedule({ scheduleId: 'c', createdAt: T0 }), undefined, T0);
        await store.putSchedule(
          makeSchedule({ scheduleId: 'a', createdAt: T0 + 1 }),
          undefined,
          T0,
        );

        const listed = await store.listSchedules();

        expect(listed.map((schedule) => schedule.scheduleId)).toEqual(['c', 'a', 'b']);
        expect(normalized(listed[0])).toEqual(
          normalized(makeSchedule({ scheduleId: 'c', createdAt: T0 })),
        );
      });
    });

    describe('Method: deleteSchedule', () => {
      it('deletes the schedule and answers true, then false', async () => {
        await store.putSchedule(makeSchedule(), undefined, T0);

        expect(await store.deleteSchedule('scd_1')).toBe(true);
        expect(await store.getSchedule('scd_1')).toBeUndefined();
        expect(await store.deleteSchedule('scd_1')).toBe(false);
        expect(await store.listSchedules()).toEqual([]);
      });
    });

    describe('Method: setPaused', () => {
      it('pauses, clearing the next tick, and resumes with the next tick given', async () => {
        await store.putSchedule(makeSchedule({ lastScheduleTime: T0 }), undefined, T0);

        expect(await store.setPaused('scd_1', true, undefined)).toBe(true);
        const paused = await store.getSchedule('scd_1');
        expect(await store.setPaused('scd_1', false, LATER)).toBe(true);
        const resumed = await store.getSchedule('scd_1');

        expect(paused?.isPaused).toBe(true);
        expect(paused?.nextScheduleTime).toBeUndefined();
        expect(resumed?.isPaused).toBe(false);
        expect(resumed?.nextScheduleTime).toBe(LATER);
        expect(normalized(resumed)).toEqual(
          normalized(makeSchedule({ lastScheduleTime: T0, nextScheduleTime: LATER })),
        );
      });

      it('answers false for a schedule that does not exist, creating nothing', async () => {
        expect(await store.setPaused('scd_missing', true, undefined)).toBe(false);
        expect(await store.listSchedules()).toEqual([]);
      });
    });

    describe('Method: recordTick', () => {
      it('records the tick and the next one, changing nothing else', async () => {
        await store.putSchedule(makeSchedule(), undefined, T0);

        await store.recordTick('scd_1', T0 + 5 * MINUTE_MS, T0 + 10 * MINUTE_MS);

        expect(normalized(await store.getSchedule('scd_1'))).toEqual(
          normalized(
            makeSchedule({
              lastScheduleTime: T0 + 5 * MINUTE_MS,
              nextScheduleTime: T0 + 10 * MINUTE_MS,
            }),
          ),
        );
      });

      it('sets the error when given and clears it with the next tick recorded without one', async () => {
        await store.putSchedule(makeSchedule(), undefined, T0);

        await store.recordTick('scd_1', T0 + 5 * MINUTE_MS, T0 + 10 * MINUTE_MS, 'refused');
        const failed = await store.getSchedule('scd_1');
        await store.recordTick('scd_1', T0 + 10 * MINUTE_MS, T0 + 15 * MINUTE_MS);
        const recovered = await store.getSchedule('scd_1');

        expect(failed?.error).toBe('refused');
        expect(recovered?.error).toBeUndefined();
        expect(recovered?.lastScheduleTime).toBe(T0 + 10 * MINUTE_MS);
      });

      it('clears the next tick when none is given', async () => {
        await store.putSchedule(makeSchedule(), undefined, T0);

        await store.recordTick('scd_1', T0 + 5 * MINUTE_MS, undefined);

        expect((await store.getSchedule('scd_1'))?.nextScheduleTime).toBeUndefined();
      });

      it('leaves a schedule paused while its tick ran without a next tick', async () => {
        await store.putSchedule(makeSchedule(), undefined, T0);
        await store.setPaused('scd_1', true, undefined);

        await store.recordTick('scd_1', T0 + 5 * MINUTE_MS, T0 + 10 * MINUTE_MS);

        const stored = await store.getSchedule('scd_1');
        expect(stored?.isPaused).toBe(true);
        expect(stored?.nextScheduleTime).toBeUndefined();
        expect(stored?.lastScheduleTime).toBe(T0 + 5 * MINUTE_MS);
      });

      it('does nothing for a schedule deleted while its tick ran', async () => {
        await store.recordTick('scd_missing', T0, LATER);

        expect(await store.getSchedule('scd_missing')).toBeUndefined();
        expect(await store.listSchedules()).toEqual([]);
      });
    });
  });
}
