/**
 * An independent model of EventBridge Scheduler cron expressions, written from the EventBridge
 * Scheduler User Guide ("Schedule types") and not from lambdas/adapters/aws/eventbridge-cron.ts,
 * so the translation's tests compare two separate readings of the rules.
 *
 * It is deliberately strict: it accepts only the documented forms (`,`, `-`, `*`, `?` and
 * `start/step`; `/` nowhere in day-of-week; names in upper case; exactly one of day-of-month and
 * day-of-week is `?`) and throws on anything else, including `L`, `W` and `#`, which the
 * translation never emits. A translation that drifts into undocumented syntax therefore fails the
 * tests instead of being read generously.
 *
 * Time zones use Intl only. Daylight saving follows the same guide: "When time shifts forward in
 * the Spring, if a cron expression falls on a non-existent date and time, your schedule invocation
 * is skipped. When time shifts backwards in the Fall, your schedule runs only once", at the first
 * (pre-shift) occurrence per its example ("runs the schedule only once at 2:30 a.m. before the
 * shift occurs").
 */

/** A wall-clock minute in some zone; month 1-12. */
export type WallClock = {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
};

/** A parsed EventBridge cron expression. */
export type EventBridgeCronModel = {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** Whether the schedule fires at some minute of this calendar day (month 1-12). */
  firesOnDay(year: number, month: number, day: number): boolean;
  /** Whether the schedule fires at this wall-clock minute of its zone. */
  firesAt(wall: WallClock): boolean;
};

const MINUTE_MS = 60_000;
const QUARTER_HOUR_MS = 15 * MINUTE_MS;
const DAY_MS = 86_400_000;
const EXPRESSION = /^cron\((.*)\)$/;
const NUMBER = /^\d+$/;
const MONTH_NAMES = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

type FieldRule = {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for min, min+1, ...: JAN = 1, SUN = 1. */
  readonly names?: readonly string[];
  readonly allowsStep: boolean;
  readonly allowsAny: boolean;
};

// The table in "Cron-based schedules": values and wildcards per field.
const RULES: readonly FieldRule[] = [
  { name: 'Minutes', min: 0, max: 59, allowsStep: true, allowsAny: false },
  { name: 'Hours', min: 0, max: 23, allowsStep: true, allowsAny: false },
  { name: 'Day-of-month', min: 1, max: 31, allowsStep: true, allowsAny: true },
  { name: 'Month', min: 1, max: 12, names: MONTH_NAMES, allowsStep: true, allowsAny: false },
  { name: 'Day-of-week', min: 1, max: 7, names: DAY_NAMES, allowsStep: false, allowsAny: true },
  { name: 'Year', min: 1970, max: 2199, allowsStep: true, allowsAny: false },
];

/** `?` in a day field: any day, the other field decides. */
const ANY_DAY = 'any';
type FieldValues = ReadonlySet<number> | typeof ANY_DAY;

/** Parses `cron(...)` per the EventBridge rules; throws on anything undocumented. */
export function parseEventBridgeCron(expression: string): EventBridgeCronModel {
  const match = EXPRESSION.exec(expression);
  if (!match) throw new Error(`not a cron(...) expression: ${expression}`);
  const texts = match[1]!.split(' ');
  if (texts.length !== RULES.length) {
    throw new Error(`expected ${RULES.length} single-spaced fields in ${expression}`);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek, years] = texts.map((text, index) =>
    parseField(text, RULES[index]!),
  ) as [FieldValues, FieldValues, FieldValues, FieldValues, FieldValues, FieldValues];
  // "You can't use * in both the Day-of-month and Day-of-week fields. If you use it in one, you
  // must use ? in the other." and, for rules, "If you specify a value or a * in one of the fields,
  // you must use a ? in the other."
  if ((daysOfMonth === ANY_DAY) === (daysOfWeek === ANY_DAY)) {
    throw new Error(`exactly one of day-of-month and day-of-week must be "?" in ${expression}`);
  }
  const asSet = (values: FieldValues): ReadonlySet<number> => values as ReadonlySet<number>;
  const firesOnDay = (year: number, month: number, day: number): boolean => {
    // EventBridge numbers days 1-7 from Sunday; getUTCDay numbers them 0-6 from Sunday.
    const dayOfWeek = new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
    return (
      asSet(months).has(month) &&
      asSet(years).has(year) &&
      (daysOfMonth === ANY_DAY || daysOfMonth.has(day)) &&
      (daysOfWeek === ANY_DAY || daysOfWeek.has(dayOfWeek))
    );
  };
  return {
    minutes: [...asSet(minutes)].sort((a, b) => a - b),
    hours: [...asSet(hours)].sort((a, b) => a - b),
    firesOnDay,
    firesAt: (wall: WallClock): boolean =>
      asSet(minutes).has(wall.minute) &&
      asSet(hours).has(wall.hour) &&
      firesOnDay(wall.year, wall.month, wall.day),
  };
}

function parseField(text: string, rule: FieldRule): FieldValues {
  const fail = (problem: string): never => {
    throw new Error(`${rule.name} "${text}": ${problem}`);
  };
  if (text === '?') return rule.allowsAny ? ANY_DAY : fail('"?" is only for the day fields');
  if (text === '*') return rangeSet(rule.min, rule.max, 1);
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [base, stepText, extra] = item.split('/');
    if (extra !== undefined) fail(`"${item}" has two "/"`);
    if (stepText !== undefined) {
      if (!rule.allowsStep) fail('"/" is not allowed in this field');
      // Only the documented "1/10" form: a start value, then the increment, up to the field's end.
      if (!NUMBER.test(stepText) || Number(stepText) < 1) fail(`bad increment "${stepText}"`);
      for (const value of rangeSet(parseValue(base!, rule, fail), rule.max, Number(stepText))) {
        values.add(value);
      }
      continue;
    }
    const [from, to, rest] = base!.split('-');
    if (rest !== undefined) fail(`"${item}" is not a value or a range`);
    const start = parseValue(from!, rule, fail);
    const end = to === undefined ? start : parseValue(to, rule, fail);
    if (start > end) fail(`range "${item}" runs backwards`);
    for (const value of rangeSet(start, end, 1)) values.add(value);
  }
  return values;
}

function parseValue(text: string, rule: FieldRule, fail: (problem: string) => never): number {
  const nameIndex = rule.names?.indexOf(text) ?? -1;
  if (nameIndex >= 0) return rule.min + nameIndex;
  if (!NUMBER.test(text)) return fail(`"${text}" is not a value this evaluator models`);
  const value = Number(text);
  if (value < rule.min || value > rule.max) fail(`${value} is outside ${rule.min}-${rule.max}`);
  return value;
}

function rangeSet(from: number, to: number, step: number): Set<number> {
  const values = new Set<number>();
  for (let value = from; value <= to; value += step) values.add(value);
  return values;
}

/**
 * The instants (ms) in the open interval (fromMs, toMs) at which EventBridge Scheduler fires
 * `expression` evaluated in `timezone`, skipping wall times that do not exist and firing a
 * repeated wall time once, at its first occurrence.
 */
export function eventBridgeFireTimes(
  expression: string,
  timezone: string,
  fromMs: number,
  toMs: number,
): number[] {
  const model = parseEventBridgeCron(expression);
  const first = wallClockAt(timezone, fromMs);
  const last = wallClockAt(timezone, toMs);
  const times: number[] = [];
  const lastDay = Date.UTC(last.year, last.month - 1, last.day);
  for (let day = Date.UTC(first.year, first.month - 1, first.day); day <= lastDay; day += DAY_MS) {
    const date = new Date(day);
    const wallDay = {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
    };
    // Only the minutes and hours the expression names can fire on a day that matches.
    if (!model.firesOnDay(wallDay.year, wallDay.month, wallDay.day)) continue;
    for (const hour of model.hours) {
      for (const minute of model.minutes) {
        const [firstOccurrence] = instantsOf(timezone, { ...wallDay, hour, minute });
        if (firstOccurrence !== undefined && firstOccurrence > fromMs && firstOccurrence < toMs) {
          times.push(firstOccurrence);
        }
      }
    }
  }
  return times.sort((a, b) => a - b);
}

type Zone = {
  readonly formatter: Intl.DateTimeFormat;
  /** Per UTC day: its one offset, or null when the offset changes during that day. */
  readonly days: Map<number, number | null>;
  /** Per quarter hour of UTC, for days with a change. */
  readonly quarters: Map<number, number>;
};
const zones = new Map<string, Zone>();

function zone(timezone: string): Zone {
  let found = zones.get(timezone);
  if (!found) {
    const formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    found = { formatter, days: new Map(), quarters: new Map() };
    zones.set(timezone, found);
  }
  return found;
}

/** The offset (ms) Intl reports at one instant: the zone's wall clock read as UTC, minus it. */
function measureOffset(formatter: Intl.DateTimeFormat, instantMs: number): number {
  const parts = formatter.formatToParts(instantMs);
  const part = (type: string): number =>
    Number(parts.find((candidate) => candidate.type === type)!.value);
  const wallAsUtc = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
  );
  return wallAsUtc - Math.floor(instantMs / MINUTE_MS) * MINUTE_MS;
}

/**
 * The zone's UTC offset (ms) at an instant. Intl is slow, so it is asked twice per UTC day and,
 * on the few days whose two answers differ, once per quarter hour: offsets only change on quarter
 * hours of UTC, and no zone changes twice and back within one day.
 */
export function offsetAt(timezone: string, instantMs: number): number {
  const { formatter, days, quarters } = zone(timezone);
  const day = Math.floor(instantMs / DAY_MS) * DAY_MS;
  let dayOffset = days.get(day);
  if (dayOffset === undefined) {
    const start = measureOffset(formatter, day);
    dayOffset = start === measureOffset(formatter, day + DAY_MS - MINUTE_MS) ? start : null;
    days.set(day, dayOffset);
  }
  if (dayOffset !== null) return dayOffset;
  const quarter = Math.floor(instantMs / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  let offset = quarters.get(quarter);
  if (offset === undefined) {
    offset = measureOffset(formatter, quarter);
    quarters.set(quarter, offset);
  }
  return offset;
}

/** The wall clock of `timezone` at an instant (seconds dropped). */
export function wallClockAt(timezone: string, instantMs: number): WallClock {
  const local = new Date(instantMs + offsetAt(timezone, instantMs));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  };
}

/**
 * Every instant at which `timezone` shows `wall`, earliest first: none in a spring-forward gap,
 * two in a fall-back overlap. Assumes at most one offset change within a day of `wall`.
 */
export function instantsOf(timezone: string, wall: WallClock): number[] {
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const before = offsetAt(timezone, wallAsUtc - DAY_MS);
  const after = offsetAt(timezone, wallAsUtc + DAY_MS);
  const instants: number[] = [];
  // The larger offset gives the earlier instant, so the list comes out earliest first.
  for (const offset of before === after
    ? [before]
    : [Math.max(before, after), Math.min(before, after)]) {
    const instant = wallAsUtc - offset;
    if (offsetAt(timezone, instant) === offset) instants.push(instant);
  }
  return instants;
}
