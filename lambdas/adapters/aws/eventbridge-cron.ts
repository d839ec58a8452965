/**
 * Restates a QStash cron schedule (standard 5-field cron, lambdas/core/cron.ts) as the cron
 * expression of one EventBridge Scheduler schedule. Pure: no SDK, so it is unit-tested against a
 * year of croner's fire times (test/unit/eventbridge-cron.test.ts).
 *
 * EventBridge facts relied on, from the EventBridge Scheduler User Guide, "Schedule types"
 * (scheduler/latest/UserGuide/schedule-types.html), unless noted:
 * - `cron(minutes hours day-of-month month day-of-week year)`, evaluated in the schedule's
 *   `ScheduleExpressionTimezone` (an IANA zone).
 * - Values and wildcards: Minutes 0-59 `, - * /`; Hours 0-23 `, - * /`; Day-of-month 1-31
 *   `, - * ? / L W`; Month 1-12 or JAN-DEC `, - * /`; Day-of-week 1-7 or SUN-SAT `, - * ? L #`,
 *   so Sunday is 1 (standard cron: 0 or 7) and day-of-week takes no `/` step at all.
 * - "You can't use * in both the Day-of-month and Day-of-week fields. If you use it in one, you
 *   must use ? in the other." The EventBridge rules page (eb-scheduled-rule-pattern.html) adds:
 *   "If you specify a value or a * (asterisk) in one of the fields, you must use a ? (question
 *   mark) in the other." So standard cron's OR of two restricted day fields has no equivalent.
 * - `/`: "In the Minutes field, you could enter 1/10 to specify every tenth minute, starting from
 *   the first minute of the hour": the documented form is `start/step`, so `*\/15` is written
 *   `0/15`, day-of-month `*\/2` (which starts at 1) `1/2`, month `*\/3` `1/3`.
 * - Day-name ranges such as `MON-FRI` are accepted: AWS's own examples use
 *   `cron(0 18 ? * MON-FRI *)`. Names are emitted for day-of-week so no renumbering is needed;
 *   ranges never wrap (`FRI-SUN` is not documented), Friday-to-Sunday becomes `SUN,FRI,SAT`.
 * - `ScheduleExpression` is 1-256 characters (CreateSchedule API model). No check is needed: the
 *   longest list each field can produce (no run of three, so no `a-b`) is 113 characters for
 *   minutes, 41 for hours, 56 for day-of-month, 17 for month and 19 for day-of-week, so an
 *   expression is at most 240 characters; the tests translate a near-worst case.
 *
 * Daylight saving time: "When time shifts forward in the Spring, if a cron expression falls on a
 * non-existent date and time, your schedule invocation is skipped. When time shifts backwards in
 * the Fall, your schedule runs only once and does not repeat its invocation." (same page). croner,
 * which fires schedules in the embedded runtime, agrees on the second point (it fires the first,
 * pre-shift occurrence) but not the first: it fires a non-existent wall time one hour later, e.g.
 * `CRON_TZ=America/New_York 30 2 * * *` fires at 03:30 EDT on 2026-03-08, which EventBridge
 * skips. Both behaviours are pinned down by tests; no translation can change EventBridge's.
 */
import { type CronSchedule, cronFields } from '../../core/cron';
import { BadRequestError } from '../../core/errors';

/** What EventBridge Scheduler's CreateSchedule needs to fire a cron schedule. */
export type EventBridgeCron = {
  /** `cron(minutes hours day-of-month month day-of-week year)`. */
  readonly scheduleExpression: string;
  /** `ScheduleExpressionTimezone`: the schedule's IANA zone, `UTC` when it has none. */
  readonly timezone: string;
};

const ANY = '?';
const ALL = '*';
const EVERY_YEAR = '*';
/** EventBridge day names by standard day-of-week number (Sunday = 0). */
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
const DAYS_IN_WEEK = 7;
const MINUTE_RANGE = { min: 0, max: 59 } as const;
const HOUR_RANGE = { min: 0, max: 23 } as const;
const DAY_OF_MONTH_RANGE = { min: 1, max: 31 } as const;
const MONTH_RANGE = { min: 1, max: 12 } as const;
/** Runs this long or longer are written `a-b`; shorter ones as a list, which is no longer. */
const MIN_RANGE_RUN = 3;

type FieldRange = { readonly min: number; readonly max: number };

/**
 * The EventBridge Scheduler cron expression that fires exactly when `schedule` does, apart from
 * the documented daylight-saving difference above.
 *
 * @throws BadRequestError explaining why when EventBridge cannot express the schedule in one
 *   expression: day-of-month and day-of-week both restricted (standard cron fires on days that
 *   match either; EventBridge needs one of them to be `?`).
 */
export function toEventBridgeCron(schedule: CronSchedule): EventBridgeCron {
  const fields = cronFields(schedule);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = schedule.expression.split(' ');

  let dayOfMonthText = ALL;
  let dayOfWeekText = ANY;
  const everyDayOfMonth = fields.daysOfMonth.length === DAY_OF_MONTH_RANGE.max;
  const everyDayOfWeek = fields.daysOfWeek.length === DAYS_IN_WEEK;
  if (fields.dayOfMonthRestricted && fields.dayOfWeekRestricted) {
    // Days matching EITHER field: only expressible when one of them already selects every day.
    if (!everyDayOfMonth && !everyDayOfWeek) {
      throw new BadRequestError(
        `Upstash-Cron "${schedule.source}" cannot run on EventBridge Scheduler: day-of-month ` +
          `"${dayOfMonth}" and day-of-week "${dayOfWeek}" are both restricted, so standard cron ` +
          'fires on days matching either one, but EventBridge needs one of the two to be "?". ' +
          `Create two schedules instead: "${minute} ${hour} ${dayOfMonth} ${month} *" and ` +
          `"${minute} ${hour} * ${month} ${dayOfWeek}" (a day matching both then fires twice)`,
      );
    }
  } else if (fields.dayOfMonthRestricted) {
    dayOfMonthText = formatNumbers(fields.daysOfMonth, DAY_OF_MONTH_RANGE);
  } else if (fields.dayOfWeekRestricted && !everyDayOfWeek) {
    dayOfMonthText = ANY;
    dayOfWeekText = formatDaysOfWeek(fields.daysOfWeek);
  }

  const parts = [
    formatNumbers(fields.minutes, MINUTE_RANGE),
    formatNumbers(fields.hours, HOUR_RANGE),
    dayOfMonthText,
    formatNumbers(fields.months, MONTH_RANGE),
    dayOfWeekText,
    EVERY_YEAR,
  ];
  return { scheduleExpression: `cron(${parts.join(' ')})`, timezone: schedule.timezone };
}

/** `*`, `start/step`, or a list of values and `a-b` runs, whichever says exactly `values`. */
function formatNumbers(values: readonly number[], range: FieldRange): string {
  if (values.length === range.max - range.min + 1) return ALL;
  return formatIncrement(values, range) ?? formatRuns(values, String);
}

/**
 * `start/step` when the values are exactly start, start+step, ... up to the field's end, which is
 * what EventBridge's `/` selects; undefined otherwise. Step 1 is left to the `a-b` form.
 */
function formatIncrement(values: readonly number[], range: FieldRange): string | undefined {
  if (values.length < 2) return undefined;
  const start = values[0]!;
  const step = values[1]! - start;
  if (step === 1) return undefined;
  if (values.some((value, index) => value !== start + index * step)) return undefined;
  if (values.at(-1)! + step <= range.max) return undefined;
  return `${start}/${step}`;
}

/** Day-of-week values (Sunday = 0) as EventBridge day names, which need no renumbering. */
function formatDaysOfWeek(days: readonly number[]): string {
  return formatRuns(days, (day) => DAY_NAMES[day]!);
}

/** Sorted values as a comma list, consecutive runs of three or more written `first-last`. */
function formatRuns(values: readonly number[], name: (value: number) => string): string {
  const items: string[] = [];
  let index = 0;
  while (index < values.length) {
    let end = index;
    while (end + 1 < values.length && values[end + 1] === values[end]! + 1) end++;
    if (end - index + 1 >= MIN_RANGE_RUN) {
      items.push(`${name(values[index]!)}-${name(values[end]!)}`);
    } else {
      for (let single = index; single <= end; single++) items.push(name(values[single]!));
    }
    index = end + 1;
  }
  return items.join(',');
}
