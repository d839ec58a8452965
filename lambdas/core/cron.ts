/**
 * QStash's `Upstash-Cron`: standard 5-field cron (minute hour day-of-month month day-of-week),
 * evaluated in UTC unless prefixed with `CRON_TZ=<IANA zone> ` (qstash-api.md §6.4).
 *
 * The grammar is validated here, field by field, so a bad header gets a 400 that names the field
 * and the value; croner is only asked for fire times once the expression is known to be good,
 * because its own errors are vague and it quietly accepts extensions (`?`, `L`, `W`, `#`, six
 * fields, nicknames) that QStash's standard cron does not define and EventBridge treats
 * differently.
 *
 * Accepted per field: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*\/n`, `a-b/n` and `a/n`
 * (meaning `a-<field max>/n`, as croner and Go's robfig/cron read it), month names JAN-DEC and day
 * names SUN-SAT in any case. Day-of-week takes 0-7 where 0 and 7 are Sunday; `SUN` at the end of a
 * range means 7, so `FRI-SUN` is Friday to Sunday.
 *
 * Refused: a seconds field, `@hourly`-style nicknames (the error names the 5-field equivalent, so
 * every stored schedule has one canonical form the EventBridge translation understands), the
 * Quartz characters `?`, `L`, `W`, `#`, out-of-range values, backwards ranges, an unknown zone, and
 * a day-of-month that never occurs in the selected months (`30 2`), which would never fire.
 *
 * Day matching follows Vixie cron, as croner does with `legacyMode: true`: when day-of-month and
 * day-of-week are both restricted (neither is literally `*`), a day matches if EITHER matches;
 * when one of them is `*`, only the other one counts.
 */
import { Cron, type CronOptions } from 'croner';
import { BadRequestError } from './errors';

/** A validated `Upstash-Cron` value. */
export type CronSchedule = {
  /** The 5 cron fields, trimmed and single-spaced, without the `CRON_TZ=` prefix. */
  readonly expression: string;
  /** The canonical IANA zone the fields are read in; `'UTC'` when there is no `CRON_TZ=`. */
  readonly timezone: string;
  /** The trimmed original, `CRON_TZ=` prefix included: what clients read back. */
  readonly source: string;
};

/**
 * The values each field selects, for code that has to restate the schedule in another cron
 * dialect (the EventBridge Scheduler translation). Every list is sorted and free of duplicates.
 */
export type CronFields = {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  readonly months: readonly number[];
  /** 0-6 with Sunday = 0: a 7 in the expression is folded into 0. */
  readonly daysOfWeek: readonly number[];
  /** False only when the day-of-month field is literally `*` (the Vixie rule for OR matching). */
  readonly dayOfMonthRestricted: boolean;
  /** False only when the day-of-week field is literally `*`. */
  readonly dayOfWeekRestricted: boolean;
};

const HEADER_NAME = 'Upstash-Cron';
const TIMEZONE_PREFIX = 'CRON_TZ=';
const DEFAULT_TIMEZONE = 'UTC';
/** Real schedules are a few dozen characters; the cap bounds the work a hostile header causes. */
export const MAX_CRON_LENGTH = 512;
const FIELD_COUNT = 5;
const FIELD_NAMES = 'minute hour day-of-month month day-of-week';
const SUNDAY = 0;
const SUNDAY_AS_SEVEN = 7;
const SATURDAY = 6;
/** Longest month of each month number; February counts its leap-year 29th, which does occur. */
const MAX_DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const NUMBER = /^\d+$/;
/** `L`, `W`, `LW`, `5L`, `15W`: Quartz day modifiers, matched only after names failed. */
const QUARTZ_DAY_MODIFIER = /^(?:L|LW|\d+L|\d+W|L-\d+)$/i;
/** `TZ=...` and the like: a prefix that is not the one QStash documents. */
const OTHER_PREFIX = /^[A-Za-z_]+=/;
const NICKNAMES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

type FieldSpec = {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Upper end of `*` and `a/n`: 6 for day-of-week, whose max 7 is only an alias of Sunday. */
  readonly implicitMax: number;
  /** Names by value, when the field has them. */
  readonly names?: Readonly<Record<string, number>>;
};

const MONTH_NAMES: Readonly<Record<string, number>> = {
  JAN: 1,
  FEB: 2,
  MAR: 3,
  APR: 4,
  MAY: 5,
  JUN: 6,
  JUL: 7,
  AUG: 8,
  SEP: 9,
  OCT: 10,
  NOV: 11,
  DEC: 12,
};
const DAY_NAMES: Readonly<Record<string, number>> = {
  SUN: 0,
  MON: 1,
  TUE: 2,
  WED: 3,
  THU: 4,
  FRI: 5,
  SAT: 6,
};

const FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, implicitMax: 59 },
  { name: 'hour', min: 0, max: 23, implicitMax: 23 },
  { name: 'day-of-month', min: 1, max: 31, implicitMax: 31 },
  { name: 'month', min: 1, max: 12, implicitMax: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, implicitMax: SATURDAY, names: DAY_NAMES },
];
const [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK] = FIELD_SPECS as [
  FieldSpec,
  FieldSpec,
  FieldSpec,
  FieldSpec,
  FieldSpec,
];

/**
 * Parses and validates an `Upstash-Cron` header value.
 *
 * @throws BadRequestError saying exactly what is wrong, e.g.
 *   `invalid Upstash-Cron "61 * * * *": minute 61 is out of range 0-59`.
 */
export function parseCron(value: string): CronSchedule {
  const source = value.trim();
  const fail: (problem: string) => never = (problem) => {
    throw new BadRequestError(`invalid ${HEADER_NAME} "${source}": ${problem}`);
  };
  if (source === '') fail(`the value is empty; expected ${FIELD_COUNT} fields (${FIELD_NAMES})`);
  if (source.length > MAX_CRON_LENGTH) fail(`longer than ${MAX_CRON_LENGTH} characters`);

  let tokens = source.split(/\s+/);
  let timezone = DEFAULT_TIMEZONE;
  const first = tokens[0]!;
  if (first.startsWith(TIMEZONE_PREFIX)) {
    timezone = canonicalTimezone(first.slice(TIMEZONE_PREFIX.length), fail);
    tokens = tokens.slice(1);
  } else if (OTHER_PREFIX.test(first)) {
    fail(`unknown prefix "${first}"; only ${TIMEZONE_PREFIX}<IANA time zone> is supported`);
  }

  const nickname = tokens[0];
  if (tokens.length === 1 && nickname?.startsWith('@')) {
    const equivalent = NICKNAMES[nickname.toLowerCase()];
    fail(
      equivalent === undefined
        ? `"${nickname}" is not supported; expected ${FIELD_COUNT} fields (${FIELD_NAMES})`
        : `nicknames such as "${nickname}" are not supported; write "${equivalent}"`,
    );
  }
  if (tokens.length !== FIELD_COUNT) {
    const seconds =
      tokens.length === FIELD_COUNT + 1
        ? '; a seconds field is not supported, the finest resolution is one minute'
        : '';
    fail(`expected ${FIELD_COUNT} fields (${FIELD_NAMES}), got ${tokens.length}${seconds}`);
  }

  const expression = tokens.join(' ');
  const fields = parseFields(expression, fail);
  if (fields.dayOfMonthRestricted && !fields.dayOfWeekRestricted) {
    const occurs = fields.months.some(
      (month) => fields.daysOfMonth[0]! <= MAX_DAYS_IN_MONTH[month]!,
    );
    if (!occurs) {
      fail(
        `day-of-month "${tokens[2]}" never occurs in month "${tokens[3]}", ` +
          'so the schedule would never fire',
      );
    }
  }
  return { expression, timezone, source };
}

/**
 * The values each field of a parsed schedule selects.
 *
 * @throws BadRequestError when `schedule.expression` is not valid (it always is when the schedule
 *   came from {@link parseCron}).
 */
export function cronFields(schedule: CronSchedule): CronFields {
  return parseFields(schedule.expression, (problem) => {
    throw new BadRequestError(`invalid ${HEADER_NAME} "${schedule.source}": ${problem}`);
  });
}

/**
 * The next fire times strictly after `afterMs` (ms since epoch), at most `count` of them; fewer
 * only if croner finds no more before the year 3000.
 *
 * Daylight-saving behaviour is croner's (9.1.0), checked in test/unit/cron.test.ts: a wall time
 * that does not exist on a spring-forward day (2:30 in New York on 2026-03-08) fires once, one hour
 * later (3:30 EDT); a wall time that occurs twice on a fall-back day (1:30 on 2026-11-01) fires
 * once, at its first (EDT) occurrence. EventBridge Scheduler differs on the first point: it skips
 * the non-existent time (see adapters/aws/eventbridge-cron.ts).
 */
export function nextFireTimes(schedule: CronSchedule, afterMs: number, count: number): number[] {
  if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be finite, got ${afterMs}`);
  const job = new Cron(schedule.expression, cronerOptions(schedule.timezone));
  const times: number[] = [];
  let previous = new Date(afterMs);
  while (times.length < count) {
    const next = job.nextRun(previous);
    if (next === null) break;
    times.push(next.getTime());
    previous = next;
  }
  return times;
}

function cronerOptions(timezone: string): CronOptions {
  // Vixie's OR rule for day-of-month / day-of-week; croner's default, stated so it cannot drift.
  const options: CronOptions = { legacyMode: true };
  // croner builds an Intl formatter for every step when given a zone name, which makes UTC
  // schedules some 60 times slower than a fixed zero offset that means exactly the same thing.
  if (timezone === DEFAULT_TIMEZONE) options.utcOffset = 0;
  else options.timezone = timezone;
  return options;
}

/** The zone's canonical IANA name (`US/Eastern` → `America/New_York`), or a 400. */
function canonicalTimezone(zone: string, fail: (problem: string) => never): string {
  if (zone === '') return fail(`${TIMEZONE_PREFIX} names no time zone`);
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return fail(`unknown time zone "${zone}"`);
  }
}

function parseFields(expression: string, fail: (problem: string) => never): CronFields {
  const texts = expression.split(' ');
  if (texts.length !== FIELD_COUNT) {
    fail(`expected ${FIELD_COUNT} fields (${FIELD_NAMES}), got ${texts.length}`);
  }
  const [minute, hour, dayOfMonth, month, dayOfWeek] = texts as [
    string,
    string,
    string,
    string,
    string,
  ];
  const daysOfWeek = parseField(dayOfWeek, DAY_OF_WEEK, fail).map((day) =>
    day === SUNDAY_AS_SEVEN ? SUNDAY : day,
  );
  return {
    minutes: parseField(minute, MINUTE, fail),
    hours: parseField(hour, HOUR, fail),
    daysOfMonth: parseField(dayOfMonth, DAY_OF_MONTH, fail),
    months: parseField(month, MONTH, fail),
    daysOfWeek: [...new Set(daysOfWeek)].sort((a, b) => a - b),
    dayOfMonthRestricted: dayOfMonth !== '*',
    dayOfWeekRestricted: dayOfWeek !== '*',
  };
}

/** The sorted, distinct values one field selects. */
function parseField(text: string, spec: FieldSpec, fail: (problem: string) => never): number[] {
  const problem: (detail: string) => never = (detail) => fail(`${spec.name} "${text}": ${detail}`);
  for (const quartz of ['?', '#']) {
    if (text.includes(quartz)) {
      problem(`"${quartz}" is Quartz/EventBridge syntax, not standard 5-field cron`);
    }
  }
  const selected = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') problem('empty list item');
    const [base, stepText, extra] = item.split('/') as [string, string | undefined, unknown];
    if (extra !== undefined) problem(`"${item}" has more than one "/"`);
    const step = stepText === undefined ? 1 : parseStep(stepText, spec, problem);
    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.implicitMax;
    } else {
      const [fromText, toText, rest] = base.split('-') as [string, string | undefined, unknown];
      if (rest !== undefined || fromText === '' || toText === '') {
        problem(`"${base}" is not a value or a range a-b`);
      }
      from = parseValue(fromText, spec, false, fail, problem);
      if (toText !== undefined) to = parseValue(toText, spec, true, fail, problem);
      else to = stepText === undefined ? from : spec.implicitMax;
      if (toText === undefined && from > to) {
        problem(`"${item}" starts after ${spec.implicitMax}, the last value a step can reach`);
      }
      if (from > to) problem(`range ${base} is backwards; the start must not exceed the end`);
    }
    for (let value = from; value <= to; value += step) selected.add(value);
  }
  return [...selected].sort((a, b) => a - b);
}

function parseStep(text: string, spec: FieldSpec, problem: (detail: string) => never): number {
  if (!NUMBER.test(text)) problem(`step "${text}" is not a whole number`);
  const step = Number(text);
  const span = spec.implicitMax - spec.min + 1;
  if (step < 1 || step > span) problem(`step ${step} is out of range 1-${span}`);
  return step;
}

function parseValue(
  text: string,
  spec: FieldSpec,
  endOfRange: boolean,
  fail: (problem: string) => never,
  problem: (detail: string) => never,
): number {
  if (NUMBER.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) {
      fail(`${spec.name} ${text} is out of range ${spec.min}-${spec.max}`);
    }
    return value;
  }
  const named = spec.names?.[text.toUpperCase()];
  if (named !== undefined) {
    // Sunday closing a range is 7, so FRI-SUN reads as Friday to Sunday (as croner reads it).
    return endOfRange && named === SUNDAY && spec === DAY_OF_WEEK ? SUNDAY_AS_SEVEN : named;
  }
  if (QUARTZ_DAY_MODIFIER.test(text) && (spec === DAY_OF_MONTH || spec === DAY_OF_WEEK)) {
    return problem(`"${text}" is Quartz/EventBridge syntax, not standard 5-field cron`);
  }
  const names =
    spec === MONTH
      ? ' or a month name (JAN-DEC)'
      : spec === DAY_OF_WEEK
        ? ' or a day name (SUN-SAT)'
        : '';
  return problem(`"${text}" is not a number${names}`);
}
