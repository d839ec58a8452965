import { toEventBridgeCron } from '../../lambdas/adapters/aws/eventbridge-cron';
import { type CronSchedule, nextFireTimes, parseCron } from '../../lambdas/core/cron';
import { expectBadRequest } from '../helpers/bad-request';
import {
  eventBridgeFireTimes,
  instantsOf,
  parseEventBridgeCron,
  wallClockAt,
} from '../helpers/eventbridge-cron-evaluator';

const NEW_YORK = 'America/New_York';
const DAY_MS = 86_400_000;
/** The API model's limit on `ScheduleExpression`. */
const MAX_SCHEDULE_EXPRESSION_LENGTH = 256;
/** The comparison window: the whole of 2026, a fire at exactly midnight included. */
const YEAR_FROM = Date.parse('2026-01-01T00:00:00Z') - 1;
const YEAR_TO = Date.parse('2027-01-01T00:00:00Z');
/** Both 2026 daylight-saving changes in New York, each with a day either side. */
const SPRING_FORWARD = {
  from: Date.parse('2026-03-07T00:00:00Z'),
  to: Date.parse('2026-03-10T00:00:00Z'),
};
const FALL_BACK = {
  from: Date.parse('2026-10-31T00:00:00Z'),
  to: Date.parse('2026-11-03T00:00:00Z'),
};
/** Small, so little of croner's time (~0.3 ms a fire with a zone) is spent past the window. */
const CRONER_BATCH = 100;
const SHOWN_DIFFERENCES = 5;

const iso = (time: number): string => new Date(time).toISOString();

/** croner's fire times (through nextFireTimes) in the open interval (fromMs, toMs). */
function cronerFireTimes(schedule: CronSchedule, fromMs: number, toMs: number): number[] {
  const times: number[] = [];
  let after = fromMs;
  for (;;) {
    const batch = nextFireTimes(schedule, after, CRONER_BATCH);
    for (const time of batch) {
      if (time >= toMs) return times;
      times.push(time);
    }
    if (batch.length < CRONER_BATCH) return times;
    after = batch.at(-1)!;
  }
}

/** A short, readable difference between two sorted lists of instants: empty when they agree. */
function difference(expected: number[], actual: number[]) {
  const expectedSet = new Set(expected);
  const actualSet = new Set(actual);
  return {
    missingFromEventBridge: expected
      .filter((t) => !actualSet.has(t))
      .slice(0, SHOWN_DIFFERENCES)
      .map(iso),
    extraInEventBridge: actual
      .filter((t) => !expectedSet.has(t))
      .slice(0, SHOWN_DIFFERENCES)
      .map(iso),
  };
}

/** Translates `value`, then fires both croner and the EventBridge model over the window. */
function fireBoth(value: string, fromMs: number, toMs: number) {
  const schedule = parseCron(value);
  const translated = toEventBridgeCron(schedule);
  return {
    translated,
    croner: cronerFireTimes(schedule, fromMs, toMs),
    eventBridge: eventBridgeFireTimes(
      translated.scheduleExpression,
      translated.timezone,
      fromMs,
      toMs,
    ),
  };
}

function expectSameFireTimes(value: string, fromMs: number, toMs: number) {
  const { croner, eventBridge } = fireBoth(value, fromMs, toMs);
  // An expression that never fires in the window would make the comparison vacuous.
  expect(croner.length).toBeGreaterThan(0);
  expect(difference(croner, eventBridge)).toEqual({
    missingFromEventBridge: [],
    extraInEventBridge: [],
  });
  expect(eventBridge).toHaveLength(croner.length);
}

describe('eventbridge-cron-evaluator (the model the translation is checked against)', () => {
  it('returns firing only at matching wall-clock minutes, with 1 = Sunday', () => {
    const weekdays = parseEventBridgeCron('cron(0 9 ? * MON-FRI *)');
    // 2026-01-05 is a Monday, 2026-01-04 a Sunday.
    expect(weekdays.firesAt({ year: 2026, month: 1, day: 5, hour: 9, minute: 0 })).toBe(true);
    expect(weekdays.firesAt({ year: 2026, month: 1, day: 4, hour: 9, minute: 0 })).toBe(false);
    expect(weekdays.firesAt({ year: 2026, month: 1, day: 5, hour: 9, minute: 1 })).toBe(false);
    const sunday = parseEventBridgeCron('cron(0 9 ? * 1 *)');
    expect(sunday.firesAt({ year: 2026, month: 1, day: 4, hour: 9, minute: 0 })).toBe(true);
  });

  it('returns start/step values up to the end of the field', () => {
    const model = parseEventBridgeCron('cron(5/20 0 1/10 * ? *)');
    expect(model.minutes).toEqual([5, 25, 45]);
    expect(model.firesAt({ year: 2026, month: 1, day: 31, hour: 0, minute: 45 })).toBe(true);
    expect(model.firesAt({ year: 2026, month: 1, day: 30, hour: 0, minute: 45 })).toBe(false);
  });

  it.each([
    ['cron(0 0 * * * *)', 'exactly one of day-of-month and day-of-week'],
    ['cron(0 0 ? * ? *)', 'exactly one of day-of-month and day-of-week'],
    ['cron(*/5 * * * ? *)', 'not a value this evaluator models'],
    ['cron(0-30/10 * * * ? *)', 'not a value this evaluator models'],
    ['cron(0 0 ? * 1/2 *)', '"/" is not allowed'],
    ['cron(0 0 ? * 0 *)', 'outside 1-7'],
    ['cron(0 0 ? * FRI-MON *)', 'runs backwards'],
    ['cron(0 0 ? * mon *)', 'not a value this evaluator models'],
    ['cron(0 0 L * ? *)', 'not a value this evaluator models'],
    ['cron(0 0 ? * 6#3 *)', 'not a value this evaluator models'],
    ['cron(0 0 * * ?)', 'expected 6 single-spaced fields'],
    ['0 0 * * ? *', 'not a cron(...) expression'],
  ])('throws when the expression is %j', (expression, message) => {
    expect(() => parseEventBridgeCron(expression)).toThrow(message);
  });

  it('returns no instant for a skipped wall time and two for a repeated one', () => {
    expect(instantsOf(NEW_YORK, { year: 2026, month: 3, day: 8, hour: 2, minute: 30 })).toEqual([]);
    expect(
      instantsOf(NEW_YORK, { year: 2026, month: 11, day: 1, hour: 1, minute: 30 }).map(iso),
    ).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z']);
    expect(
      instantsOf(NEW_YORK, { year: 2026, month: 3, day: 8, hour: 3, minute: 30 }).map(iso),
    ).toEqual(['2026-03-08T07:30:00.000Z']);
    expect(wallClockAt(NEW_YORK, Date.parse('2026-03-08T07:30:00Z'))).toEqual({
      year: 2026,
      month: 3,
      day: 8,
      hour: 3,
      minute: 30,
    });
  });
});

describe('toEventBridgeCron', () => {
  it('returns the zone as ScheduleExpressionTimezone', () => {
    expect(toEventBridgeCron(parseCron('CRON_TZ=America/New_York 0 4 * * *'))).toEqual({
      scheduleExpression: 'cron(0 4 * * ? *)',
      timezone: NEW_YORK,
    });
    expect(toEventBridgeCron(parseCron('0 4 * * *')).timezone).toBe('UTC');
  });

  it.each([
    ['0 9 1,15 * 1-5', '"1,15"', '"1-5"', '"0 9 1,15 * *"', '"0 9 * * 1-5"'],
    ['0 0 13 * FRI', '"13"', '"FRI"', '"0 0 13 * *"', '"0 0 * * FRI"'],
    ['0 0 */2 * 1', '"*/2"', '"1"', '"0 0 */2 * *"', '"0 0 * * 1"'],
  ])(
    'throws a BadRequestError suggesting two schedules when both day fields are restricted: %j',
    (value, dayOfMonth, dayOfWeek, first, second) => {
      expectBadRequest(
        () => toEventBridgeCron(parseCron(value)),
        `Upstash-Cron "${value}" cannot run on EventBridge Scheduler`,
        `day-of-month ${dayOfMonth} and day-of-week ${dayOfWeek} are both restricted`,
        'either one',
        'Create two schedules',
        first,
        second,
      );
    },
  );

  it('returns an expression within the API limit for a near-worst case of long lists', () => {
    const pairs = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i)
        .filter((value) => (value - from) % 3 !== 2)
        .join(',');
    const value = `${pairs(0, 59)} ${pairs(0, 23)} ${pairs(1, 31)} ${pairs(1, 12)} *`;
    const { scheduleExpression } = toEventBridgeCron(parseCron(value));
    expect(scheduleExpression).toBe(`cron(${value.slice(0, -2)} ? *)`);
    expect(scheduleExpression.length).toBeGreaterThan(230);
    expect(scheduleExpression.length).toBeLessThanOrEqual(MAX_SCHEDULE_EXPRESSION_LENGTH);
  });

  // Each row: the standard cron, its exact translation, and (via the it body) a year of
  // croner's fire times compared with the EventBridge model's.
  describe.each([
    ['* * * * *', 'cron(* * * * ? *)', 3],
    ['*/15 * * * *', 'cron(0/15 * * * ? *)'],
    ['*/7 9-17 * * *', 'cron(0/7 9-17 * * ? *)'],
    ['5/20 * * * *', 'cron(5/20 * * * ? *)'],
    ['0-30/10 * * * *', 'cron(0,10,20,30 * * * ? *)'],
    ['15,45 * * * *', 'cron(15/30 * * * ? *)'],
    ['1-5 0 * * *', 'cron(1-5 0 * * ? *)'],
    ['*/20 9-17/4 * * *', 'cron(0/20 9,13,17 * * ? *)'],
    ['0 * * * *', 'cron(0 * * * ? *)'],
    ['0 */6 * * *', 'cron(0 0/6 * * ? *)'],
    ['0 0,12 1 * *', 'cron(0 0/12 1 * ? *)'],
    ['30 8,12,18 * * *', 'cron(30 8,12,18 * * ? *)'],
    ['0 9-17 * * 1-5', 'cron(0 9-17 ? * MON-FRI *)'],
    ['0 9 * * MON-FRI', 'cron(0 9 ? * MON-FRI *)'],
    ['0 9 * * 1', 'cron(0 9 ? * MON *)'],
    ['0 8 * * mon,wed,fri', 'cron(0 8 ? * MON,WED,FRI *)'],
    ['0 0 * * 0,6', 'cron(0 0 ? * SUN,SAT *)'],
    ['0 10 * * sat,sun', 'cron(0 10 ? * SUN,SAT *)'],
    ['0 9 * * 6-7', 'cron(0 9 ? * SUN,SAT *)'],
    ['0 0 * * 7', 'cron(0 0 ? * SUN *)'],
    ['0 12 * * SUN', 'cron(0 12 ? * SUN *)'],
    ['0 0 * * 5-7', 'cron(0 0 ? * SUN,FRI,SAT *)'],
    ['0 0 * * FRI-SUN', 'cron(0 0 ? * SUN,FRI,SAT *)'],
    ['0 22 * * 0-4', 'cron(0 22 ? * SUN-THU *)'],
    ['0 0 * * */2', 'cron(0 0 ? * SUN,TUE,THU,SAT *)'],
    ['0 0 * * 1-7/2', 'cron(0 0 ? * SUN,MON,WED,FRI *)'],
    ['0 0 * * 0-7', 'cron(0 0 * * ? *)'],
    ['0 0 1,15 * *', 'cron(0 0 1,15 * ? *)'],
    ['0 0 */2 * *', 'cron(0 0 1/2 * ? *)'],
    ['0 0 1-7 * *', 'cron(0 0 1-7 * ? *)'],
    ['0 12 10-20/5 * *', 'cron(0 12 10,15,20 * ? *)'],
    ['0 0 31 * *', 'cron(0 0 31 * ? *)'],
    ['0 0 1 * 0-6', 'cron(0 0 * * ? *)'],
    ['0 0 1-31 * 1', 'cron(0 0 * * ? *)'],
    ['0 0 * 2 *', 'cron(0 0 * 2 ? *)'],
    ['0 0 1 JAN-MAR,Oct *', 'cron(0 0 1 1-3,10 ? *)'],
    ['0 0 1 */3 *', 'cron(0 0 1 1/3 ? *)'],
    ['0 6 * jun-aug 1-5', 'cron(0 6 ? 6-8 MON-FRI *)'],
    ['30 */4 */10 */2 *', 'cron(30 0/4 1/10 1/2 ? *)'],
    ['59 23 31 12 *', 'cron(59 23 31 12 ? *)'],
  ] as Array<[string, string, number?]>)('%j in UTC', (value, expected, days) => {
    it(`returns ${expected}`, () => {
      expect(toEventBridgeCron(parseCron(value)).scheduleExpression).toBe(expected);
    });

    it(`returns the same fire times as croner over ${days ?? 'all 365'} days of 2026`, () => {
      expectSameFireTimes(value, YEAR_FROM, days ? YEAR_FROM + days * DAY_MS : YEAR_TO);
    });
  });

  // croner with a zone name costs ~0.3 ms per fire time, so the whole-year rows fire at most once
  // a day; none falls in New York's skipped or repeated hours. Busier schedules are compared
  // around the two changes below.
  describe.each([
    ['0 9 * * 1-5', 'cron(0 9 ? * MON-FRI *)'],
    ['0 0 * * *', 'cron(0 0 * * ? *)'],
    ['30 8 * * *', 'cron(30 8 * * ? *)'],
    ['0 4 1 * *', 'cron(0 4 1 * ? *)'],
    ['15 3 * * 0', 'cron(15 3 ? * SUN *)'],
    ['0 23 * * 6', 'cron(0 23 ? * SAT *)'],
    ['0 12 1,15 * *', 'cron(0 12 1,15 * ? *)'],
    ['45 0 * * 7', 'cron(45 0 ? * SUN *)'],
    ['0 3 8 3 *', 'cron(0 3 8 3 ? *)'],
  ])('CRON_TZ=America/New_York %s', (fields, expected) => {
    const value = `CRON_TZ=${NEW_YORK} ${fields}`;

    it(`returns ${expected} in ${NEW_YORK}`, () => {
      expect(toEventBridgeCron(parseCron(value))).toEqual({
        scheduleExpression: expected,
        timezone: NEW_YORK,
      });
    });

    it('returns the same fire times as croner over all of 2026', () => {
      expectSameFireTimes(value, YEAR_FROM, YEAR_TO);
    });
  });

  describe.each([
    ['*/15 * * * *'],
    ['*/30 * * * *'],
    ['0 * * * *'],
    ['0 0-3 * * *'],
    ['0 */6 * * *'],
    ['0 3-23/5 * * *'],
    ['0 1 * * *'],
    ['59 1 * * *'],
  ])('CRON_TZ=America/New_York %s around the daylight-saving changes', (fields) => {
    const value = `CRON_TZ=${NEW_YORK} ${fields}`;

    it('returns the same fire times as croner around spring forward (2026-03-08)', () => {
      expectSameFireTimes(value, SPRING_FORWARD.from, SPRING_FORWARD.to);
    });

    it('returns the same fire times as croner around fall back (2026-11-01)', () => {
      expectSameFireTimes(value, FALL_BACK.from, FALL_BACK.to);
    });
  });

  describe('at 2:30 in America/New_York, where croner and EventBridge differ', () => {
    // EventBridge Scheduler User Guide, "Daylight savings time on EventBridge Scheduler": "When
    // time shifts forward in the Spring, if a cron expression falls on a non-existent date and
    // time, your schedule invocation is skipped. When time shifts backwards in the Fall, your
    // schedule runs only once and does not repeat its invocation."
    const value = `CRON_TZ=${NEW_YORK} 30 2 * * *`;

    it('returns a fire at 03:30 EDT from croner but none from EventBridge on 2026-03-08', () => {
      const { translated, croner, eventBridge } = fireBoth(
        value,
        SPRING_FORWARD.from,
        SPRING_FORWARD.to,
      );
      expect(translated.scheduleExpression).toBe('cron(30 2 * * ? *)');
      expect(croner.map(iso)).toEqual([
        '2026-03-07T07:30:00.000Z', // 02:30 EST
        '2026-03-08T07:30:00.000Z', // 03:30 EDT: croner fires the missing 02:30 an hour late
        '2026-03-09T06:30:00.000Z', // 02:30 EDT
      ]);
      expect(eventBridge.map(iso)).toEqual([
        '2026-03-07T07:30:00.000Z',
        '2026-03-09T06:30:00.000Z', // EventBridge skipped the day the wall time did not exist
      ]);
    });

    it('returns one fire at 02:30 EST from both on 2026-11-01, after the repeated hour', () => {
      const { croner, eventBridge } = fireBoth(value, FALL_BACK.from, FALL_BACK.to);
      const expected = [
        '2026-10-31T06:30:00.000Z', // 02:30 EDT
        '2026-11-01T07:30:00.000Z', // 02:30 EST: New York repeats 01:00-01:59, not 02:xx
        '2026-11-02T07:30:00.000Z',
      ];
      expect(croner.map(iso)).toEqual(expected);
      expect(eventBridge.map(iso)).toEqual(expected);
    });

    it('returns only the first 01:30 from both on 2026-11-01, when 01:30 happens twice', () => {
      const { croner, eventBridge } = fireBoth(
        `CRON_TZ=${NEW_YORK} 30 1 * * *`,
        FALL_BACK.from,
        FALL_BACK.to,
      );
      const expected = [
        '2026-10-31T05:30:00.000Z',
        '2026-11-01T05:30:00.000Z', // 01:30 EDT; the 01:30 EST at 06:30Z does not fire
        '2026-11-02T06:30:00.000Z',
      ];
      expect(croner.map(iso)).toEqual(expected);
      expect(eventBridge.map(iso)).toEqual(expected);
    });
  });

  describe('on generated expressions (seeded, so a failure reproduces)', () => {
    const SEED = 20_260_101;
    const CASES = 80;
    // mulberry32: a tiny, well-mixed PRNG, deterministic without a dependency.
    let state = SEED;
    const random = (below: number): number => {
      state = (state + 0x6d2b79f5) | 0;
      let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
      mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
      return Math.floor((((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296) * below);
    };
    const MONTHS = [
      'jan',
      'FEB',
      'Mar',
      'APR',
      'may',
      'JUN',
      'jul',
      'AUG',
      'sep',
      'OCT',
      'nov',
      'DEC',
    ];
    const DAYS = ['sun', 'MON', 'Tue', 'WED', 'thu', 'FRI', 'sat'];

    /** One list item of a field: a value, a range, a step or a list, names used at random. */
    const term = (min: number, max: number, names?: readonly string[], nameBase = min): string => {
      const token = (value: number): string => {
        const name = names?.[value - nameBase];
        return name !== undefined && random(2) ? name : `${value}`;
      };
      const span = max - min + 1;
      const a = min + random(span);
      const b = a + random(max - a + 1);
      switch (random(6)) {
        case 0:
          return token(a);
        case 1:
          return `${token(a)}-${token(b)}`;
        case 2:
          return `*/${1 + random(span)}`;
        case 3:
          return `${token(a)}-${token(b)}/${1 + random(span)}`;
        case 4:
          return `${token(a)}/${1 + random(span)}`;
        default:
          return `${token(a)},${token(min + random(span))}`;
      }
    };
    const field = (min: number, max: number, names?: readonly string[], nameBase?: number) =>
      random(2) ? '*' : term(min, max, names, nameBase);

    const generated: string[] = [];
    for (let index = 0; index < CASES; index++) {
      const minute = `${random(60)}`;
      const hour = random(2) ? `${random(24)}` : `${random(24)},${random(24)}`;
      // Day-of-week takes its real max of 6 for names and values; 7 appears through ranges.
      const dayOfWeek = random(4) === 0 ? `${random(8)}` : field(0, 6, DAYS, 0);
      generated.push(`${minute} ${hour} ${field(1, 31)} ${field(1, 12, MONTHS, 1)} ${dayOfWeek}`);
    }

    it.each(generated)(
      'returns the same fire times as croner over 2026, or refuses: %j',
      (value) => {
        let schedule: CronSchedule;
        try {
          schedule = parseCron(value);
        } catch {
          // Generated ranges like "5-3/2" or "31 2" are refused by parseCron; nothing to translate.
          return;
        }
        const fields = schedule.expression.split(' ');
        const bothRestricted = fields[2] !== '*' && fields[4] !== '*';
        let translated: ReturnType<typeof toEventBridgeCron>;
        try {
          translated = toEventBridgeCron(schedule);
        } catch (error) {
          expect(bothRestricted).toBe(true);
          expect((error as Error).message).toContain('Create two schedules');
          return;
        }
        const croner = cronerFireTimes(schedule, YEAR_FROM, YEAR_TO);
        const eventBridge = eventBridgeFireTimes(
          translated.scheduleExpression,
          translated.timezone,
          YEAR_FROM,
          YEAR_TO,
        );
        expect(difference(croner, eventBridge)).toEqual({
          missingFromEventBridge: [],
          extraInEventBridge: [],
        });
        expect(eventBridge).toHaveLength(croner.length);
      },
    );

    it('translates most generated expressions rather than refusing them', () => {
      const translated = generated.filter((value) => {
        try {
          toEventBridgeCron(parseCron(value));
          return true;
        } catch {
          return false;
        }
      });
      expect(translated.length).toBeGreaterThan(CASES / 3);
    });
  });
});
