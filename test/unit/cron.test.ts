import { cronFields, MAX_CRON_LENGTH, nextFireTimes, parseCron } from '../../lambdas/core/cron';
import { BadRequestError } from '../../lambdas/core/errors';
import { expectBadRequest } from '../helpers/bad-request';

const NEW_YORK = 'America/New_York';
const at = (iso: string): number => Date.parse(iso);
const isoTimes = (times: number[]): string[] => times.map((time) => new Date(time).toISOString());

describe('parseCron', () => {
  it.each([
    ['*/10 * * * * ', '*/10 * * * *', 'UTC', '*/10 * * * *'],
    ['0 4 * * 1-5', '0 4 * * 1-5', 'UTC', '0 4 * * 1-5'],
    ['0 0 1,15 * *', '0 0 1,15 * *', 'UTC', '0 0 1,15 * *'],
    ['0-30/10 8-18/2 */2 JAN-MAR mon-fri', '0-30/10 8-18/2 */2 JAN-MAR mon-fri', 'UTC', null],
    ['5/20 * * * *', '5/20 * * * *', 'UTC', null],
    ['0 0 * * 7', '0 0 * * 7', 'UTC', null],
    ['0 10 * * sat,sun', '0 10 * * sat,sun', 'UTC', null],
    ['0 0 29 2 *', '0 0 29 2 *', 'UTC', null],
    ['  0   4 *\t* *  ', '0 4 * * *', 'UTC', '0   4 *\t* *'],
    ['CRON_TZ=America/New_York 0 4 * * *', '0 4 * * *', NEW_YORK, null],
    ['CRON_TZ=US/Eastern 0 4 * * *', '0 4 * * *', NEW_YORK, 'CRON_TZ=US/Eastern 0 4 * * *'],
    ['CRON_TZ=Europe/london 30 9 * * 1', '30 9 * * 1', 'Europe/London', null],
  ])('returns the schedule when the value is %j', (value, expression, timezone, source) => {
    expect(parseCron(value)).toEqual({
      expression,
      timezone,
      source: source ?? value.trim(),
    });
  });

  it('returns the exact message the brief names when a minute is out of range', () => {
    expect(() => parseCron('61 * * * *')).toThrow(
      new BadRequestError('invalid Upstash-Cron "61 * * * *": minute 61 is out of range 0-59'),
    );
  });

  it.each([
    ['', ['""', 'empty', 'expected 5 fields']],
    ['   ', ['""', 'empty']],
    ['* * * * * *', ['expected 5 fields (minute hour day-of-month month day-of-week), got 6']],
    ['0 0 * * * *', ['got 6', 'a seconds field is not supported']],
    ['* * * *', ['expected 5 fields', 'got 4']],
    ['CRON_TZ=America/New_York * * * *', ['got 4']],
    ['CRON_TZ=Mars/Base 0 4 * * *', ['unknown time zone "Mars/Base"']],
    ['CRON_TZ=+05:00 0 4 * * *', ['unknown time zone "+05:00"']],
    ['CRON_TZ= 0 4 * * *', ['CRON_TZ= names no time zone']],
    ['TZ=UTC 0 4 * * *', ['unknown prefix "TZ=UTC"', 'CRON_TZ=']],
    ['@hourly', ['"@hourly" are not supported', 'write "0 * * * *"']],
    ['@DAILY', ['write "0 0 * * *"']],
    ['@reboot', ['"@reboot" is not supported']],
    ['0 24 * * *', ['hour 24 is out of range 0-23']],
    ['0 0 0 * *', ['day-of-month 0 is out of range 1-31']],
    ['0 0 32 * *', ['day-of-month 32 is out of range 1-31']],
    ['0 0 * 13 *', ['month 13 is out of range 1-12']],
    ['0 0 * * 8', ['day-of-week 8 is out of range 0-7']],
    ['0 0 * * 1-9', ['day-of-week 9 is out of range 0-7']],
    ['0 0 ? * *', ['day-of-month "?"', '"?" is Quartz/EventBridge syntax']],
    ['0 0 * * ?', ['day-of-week "?"', 'not standard 5-field cron']],
    ['0 0 L * *', ['day-of-month "L"', '"L" is Quartz/EventBridge syntax']],
    ['0 0 15W * *', ['day-of-month "15W"', 'Quartz']],
    ['0 0 * * 5L', ['day-of-week "5L"', 'Quartz']],
    ['0 0 * * 1#2', ['day-of-week "1#2"', '"#" is Quartz/EventBridge syntax']],
    ['*/0 * * * *', ['minute "*/0": step 0 is out of range 1-60']],
    ['*/61 * * * *', ['step 61 is out of range 1-60']],
    ['0 0 * * */8', ['day-of-week "*/8": step 8 is out of range 1-7']],
    ['*/x * * * *', ['step "x" is not a whole number']],
    ['*/5/2 * * * *', ['"*/5/2" has more than one "/"']],
    ['5-1 * * * *', ['minute "5-1": range 5-1 is backwards']],
    ['0 0 * * FRI-MON', ['range FRI-MON is backwards']],
    ['0 0 * * 7/1', ['"7/1" starts after 6']],
    ['1,,2 * * * *', ['minute "1,,2": empty list item']],
    ['1, * * * *', ['empty list item']],
    ['a * * * *', ['minute "a": "a" is not a number']],
    ['1.5 * * * *', ['"1.5" is not a number']],
    ['-5 * * * *', ['"-5" is not a value or a range a-b']],
    ['1-2-3 * * * *', ['"1-2-3" is not a value or a range a-b']],
    ['0 0 * FOO *', ['month "FOO"', 'or a month name (JAN-DEC)']],
    ['0 0 * * MONDAY', ['day-of-week "MONDAY"', 'or a day name (SUN-SAT)']],
    ['0 0 MON * *', ['day-of-month "MON": "MON" is not a number']],
    ['0 0 30 2 *', ['day-of-month "30" never occurs in month "2"', 'never fire']],
    ['0 0 31 4,6,9,11 *', ['never occurs']],
  ])('throws a BadRequestError when the value is %j', (value, fragments) => {
    expectBadRequest(() => parseCron(value), 'invalid Upstash-Cron', ...fragments);
  });

  it('throws a BadRequestError when the value is longer than MAX_CRON_LENGTH', () => {
    const value = `${'0,'.repeat(MAX_CRON_LENGTH)}0 * * * *`;
    expectBadRequest(() => parseCron(value), `longer than ${MAX_CRON_LENGTH} characters`);
  });

  it('accepts a day-of-month that only some selected months have', () => {
    expect(parseCron('0 0 31 2,3 *').expression).toBe('0 0 31 2,3 *');
  });
});

describe('cronFields', () => {
  const fieldsOf = (value: string) => cronFields(parseCron(value));

  it.each([
    ['0 0 * * 7', [0]],
    ['0 0 * * 0,7', [0]],
    ['0 0 * * FRI-SUN', [0, 5, 6]],
    ['0 0 * * 5-7', [0, 5, 6]],
    ['0 0 * * */2', [0, 2, 4, 6]],
    ['0 0 * * 1-7/2', [0, 1, 3, 5]],
    ['0 0 * * 1/2', [1, 3, 5]],
    ['0 0 * * SUN-SAT', [0, 1, 2, 3, 4, 5, 6]],
    ['0 0 * * sat,Sun', [0, 6]],
  ])('returns days of week %j → %j with Sunday folded to 0', (value, days) => {
    expect(fieldsOf(value).daysOfWeek).toEqual(days);
  });

  it('returns every selected value of each field when steps, ranges and names are used', () => {
    expect(fieldsOf('0-30/10,45 */10 */10 jan-jul/3 *')).toMatchObject({
      minutes: [0, 10, 20, 30, 45],
      hours: [0, 10, 20],
      daysOfMonth: [1, 11, 21, 31],
      months: [1, 4, 7],
    });
  });

  it.each([
    ['0 0 * * *', false, false],
    ['0 0 1 * *', true, false],
    ['0 0 * * 1', false, true],
    ['0 0 1 * 1', true, true],
    // croner's reading: only a literal `*` is unrestricted, so `*/2` counts as restricted (Vixie
    // cron itself treats any field starting with `*` as unrestricted).
    ['0 0 */2 * 1', true, true],
  ])('returns the restriction flags of %j', (value, dayOfMonth, dayOfWeek) => {
    expect(fieldsOf(value)).toMatchObject({
      dayOfMonthRestricted: dayOfMonth,
      dayOfWeekRestricted: dayOfWeek,
    });
  });
});

describe('nextFireTimes', () => {
  const next = (value: string, afterIso: string, count: number): string[] =>
    isoTimes(nextFireTimes(parseCron(value), at(afterIso), count));

  it('returns every quarter hour when the schedule is */15', () => {
    expect(next('*/15 * * * *', '2026-01-01T00:07:00Z', 4)).toEqual([
      '2026-01-01T00:15:00.000Z',
      '2026-01-01T00:30:00.000Z',
      '2026-01-01T00:45:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
  });

  it('returns weekdays only when the schedule is 0 4 * * 1-5 (2026-01-02 is a Friday)', () => {
    expect(next('0 4 * * 1-5', '2026-01-02T05:00:00Z', 3)).toEqual([
      '2026-01-05T04:00:00.000Z',
      '2026-01-06T04:00:00.000Z',
      '2026-01-07T04:00:00.000Z',
    ]);
  });

  it('returns the 1st and 15th when the schedule is 0 0 1,15 * *', () => {
    expect(next('0 0 1,15 * *', '2026-01-15T00:00:00Z', 3)).toEqual([
      '2026-02-01T00:00:00.000Z',
      '2026-02-15T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
  });

  it('returns days matching EITHER day field when both are restricted (Vixie OR)', () => {
    // Fridays in January 2026 are the 2nd, 9th, 16th; the 13th is a Tuesday.
    expect(next('0 0 13 * 5', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-02T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
      '2026-01-16T00:00:00.000Z',
    ]);
  });

  it('returns times strictly after afterMs when afterMs is itself a fire time', () => {
    expect(next('0 4 * * *', '2026-01-01T04:00:00Z', 1)).toEqual(['2026-01-02T04:00:00.000Z']);
    expect(next('0 4 * * *', '2026-01-01T03:59:59.999Z', 1)).toEqual(['2026-01-01T04:00:00.000Z']);
  });

  it('returns wall-clock times of the CRON_TZ zone when the schedule has one', () => {
    expect(next('CRON_TZ=America/New_York 0 4 * * *', '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-01T09:00:00.000Z',
    ]);
    expect(next('CRON_TZ=America/New_York 0 4 * * *', '2026-07-01T00:00:00Z', 1)).toEqual([
      '2026-07-01T08:00:00.000Z',
    ]);
  });

  it('returns leap days only when the schedule is 0 0 29 2 *', () => {
    expect(next('0 0 29 2 *', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  it('returns an empty list when count is 0', () => {
    expect(nextFireTimes(parseCron('* * * * *'), at('2026-01-01T00:00:00Z'), 0)).toEqual([]);
  });

  it('throws a RangeError when afterMs is not finite', () => {
    expect(() => nextFireTimes(parseCron('* * * * *'), Number.NaN, 1)).toThrow(RangeError);
  });

  describe('across daylight-saving changes in America/New_York (croner 9.1.0 behaviour)', () => {
    it('returns 03:30 EDT on 2026-03-08, when 02:30 does not exist (spring forward)', () => {
      // Clocks jump from 01:59:59 EST to 03:00 EDT at 07:00Z. croner fires the missing 02:30
      // one hour later instead of skipping it; EventBridge Scheduler skips it (see
      // eventbridge-cron.test.ts).
      expect(next('CRON_TZ=America/New_York 30 2 * * *', '2026-03-07T00:00:00Z', 3)).toEqual([
        '2026-03-07T07:30:00.000Z', // 02:30 EST
        '2026-03-08T07:30:00.000Z', // 03:30 EDT: the shifted 02:30
        '2026-03-09T06:30:00.000Z', // 02:30 EDT
      ]);
    });

    it('returns 02:30 once on 2026-11-01, which is after the repeated 01:00-01:59 hour', () => {
      expect(next('CRON_TZ=America/New_York 30 2 * * *', '2026-10-31T00:00:00Z', 3)).toEqual([
        '2026-10-31T06:30:00.000Z', // 02:30 EDT
        '2026-11-01T07:30:00.000Z', // 02:30 EST
        '2026-11-02T07:30:00.000Z',
      ]);
    });

    it('returns only the first occurrence of 01:30 on 2026-11-01 (fall back)', () => {
      // 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST); croner fires the first only.
      expect(next('CRON_TZ=America/New_York 30 1 * * *', '2026-10-31T12:00:00Z', 2)).toEqual([
        '2026-11-01T05:30:00.000Z',
        '2026-11-02T06:30:00.000Z',
      ]);
    });

    it('returns no extra or missing half hours for */30 across both changes', () => {
      expect(next('CRON_TZ=America/New_York */30 * * * *', '2026-03-08T06:00:00Z', 3)).toEqual([
        '2026-03-08T06:30:00.000Z', // 01:30 EST
        '2026-03-08T07:00:00.000Z', // 03:00 EDT: 02:00 and 02:30 do not exist
        '2026-03-08T07:30:00.000Z',
      ]);
      expect(next('CRON_TZ=America/New_York */30 * * * *', '2026-11-01T05:00:00Z', 3)).toEqual([
        '2026-11-01T05:30:00.000Z', // 01:30 EDT
        '2026-11-01T07:00:00.000Z', // 02:00 EST: the repeated 01:00 and 01:30 EST are skipped
        '2026-11-01T07:30:00.000Z',
      ]);
    });
  });
});
