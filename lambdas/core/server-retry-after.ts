/**
 * Server-directed retry delays: when a failed delivery's response says when to come back
 * (`Retry-After`, or the rate-limit reset headers some APIs send instead), the next retry is
 * scheduled from it rather than from the backoff, as QStash does.
 */

/** Delays further away than this are ignored, leaving the normal backoff in charge. */
const ONE_DAY_MS = 86_400_000;
const MS_PER_SECOND = 1_000;
const NS_PER_MS = 1_000_000;

/**
 * A plain integer at least this large is read as a unix timestamp in seconds rather than as a
 * number of seconds to wait: `X-RateLimit-Reset` is sent both ways (GitHub and others send the
 * epoch second at which the window resets). The smallest such value, 2001-09-09, is decades in
 * the past, while any real delta-seconds this large (31 years) would be ignored as more than a
 * day anyway, so the two readings never compete. Epoch milliseconds are not recognised: read as
 * seconds they are far in the future, so they are ignored.
 */
const UNIX_TIMESTAMP_MIN_SECONDS = 1_000_000_000;

/** Checked in this order; the first one with a usable value wins. */
const RETRY_AFTER_HEADERS = [
  'retry-after',
  'x-ratelimit-reset',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
] as const;

// Decimals are tolerated as well as RFC 9110's integers: some rate limiters send `0.5`.
const PLAIN_SECONDS = /^(\d+)(?:\.(\d+))?$/;

// Go's time.Duration syntax (`6m5s`, `1.5h`, `300ms`), as OpenAI-style rate-limit headers use.
// Units longest first within each prefix so that `ms` is not read as `m` followed by garbage.
// A sign is not accepted: a negative delay is ignored anyway.
const DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const DURATION_GROUP = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1_000,
  // Go accepts both the micro sign (U+00B5) and the Greek letter mu (U+03BC).
  µs: 1_000,
  μs: 1_000,
  ms: 1_000_000,
  s: 1_000_000_000,
  m: 60_000_000_000,
  h: 3_600_000_000_000,
};

// RFC 9110's IMF-fixdate, i.e. RFC 1123 in GMT: `Wed, 21 Oct 2015 07:28:00 GMT`. The obsolete
// RFC 850 and asctime forms are not recognised; servers have not sent them for decades.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HTTP_DATE = new RegExp(
  '^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{1,2}) ' +
    `(${MONTHS.join('|')}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const MAX_HOUR = 23;
const MAX_MINUTE = 59;
// 60 lets a leap second through; Date.UTC rolls it into the next minute.
const MAX_SECOND = 60;

/**
 * `integer.fraction` of a unit, in nanoseconds. The two parts are scaled separately so that
 * `1.1s` is exactly 1_100_000_000 ns rather than 1.1 * 1e9 with a binary rounding error.
 */
function toNanoseconds(integer: string, fraction: string, unitNs: number): number {
  const whole = integer === '' ? 0 : Number(integer) * unitNs;
  const part = fraction === '' ? 0 : Math.round(Number(`0.${fraction}`) * unitNs);
  return whole + part;
}

// Rounded up: retrying a fraction of a millisecond before the server allows would waste the try.
function nanosecondsToMs(ns: number): number {
  return Math.ceil(ns / NS_PER_MS);
}

/** A delay to wait, or undefined when it is more than a day (the caller falls back to backoff). */
function withinOneDay(delayMs: number): number | undefined {
  return delayMs <= ONE_DAY_MS ? delayMs : undefined;
}

/** Time until an absolute instant; an instant already past means retry now. */
function untilInstant(instantMs: number, nowMs: number): number | undefined {
  return withinOneDay(Math.max(0, Math.ceil(instantMs - nowMs)));
}

function parsePlainSeconds(value: string, nowMs: number): number | undefined {
  const match = PLAIN_SECONDS.exec(value);
  if (!match) return undefined;
  const [, integer = '', fraction = ''] = match;
  const seconds = Number(`${integer}.${fraction || '0'}`);
  if (seconds >= UNIX_TIMESTAMP_MIN_SECONDS) return untilInstant(seconds * MS_PER_SECOND, nowMs);
  return withinOneDay(nanosecondsToMs(toNanoseconds(integer, fraction, UNIT_NS.s!)));
}

function parseGoDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let totalNs = 0;
  for (const [, integer = '', fraction = '', unit = ''] of value.matchAll(DURATION_GROUP)) {
    totalNs += toNanoseconds(integer, fraction, UNIT_NS[unit] ?? 0);
  }
  return withinOneDay(nanosecondsToMs(totalNs));
}

function parseHttpDate(value: string, nowMs: number): number | undefined {
  const match = HTTP_DATE.exec(value);
  if (!match) return undefined;
  const [, dayText, monthText = '', yearText, hourText, minuteText, secondText] = match;
  const day = Number(dayText);
  const year = Number(yearText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  const month = MONTHS.indexOf(monthText);
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  // Date.UTC would silently roll `31 Feb` or `25:00` forward; such a value is garbage instead.
  if (day < 1 || day > daysInMonth) return undefined;
  if (hour > MAX_HOUR || minute > MAX_MINUTE || second > MAX_SECOND) return undefined;
  return untilInstant(Date.UTC(year, month, day, hour, minute, second), nowMs);
}

function parseRetryAfterValue(raw: string, nowMs: number): number | undefined {
  const value = raw.trim();
  if (value === '') return undefined;
  return parsePlainSeconds(value, nowMs) ?? parseGoDuration(value) ?? parseHttpDate(value, nowMs);
}

/**
 * The delay a failed delivery's response asks for before the next retry.
 *
 * Each header may hold integer seconds (`0` means retry immediately), an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`, relative to `nowMs`; a past date means 0), a Go-style
 * duration (`6m5s`, `1.5h`, `300ms`; units ns, us, µs, ms, s, m, h), or, as `X-RateLimit-Reset`
 * often does, a unix timestamp in seconds (any integer of at least 1_000_000_000). A value that is
 * negative, unparseable or more than one day away is ignored so the normal backoff applies.
 * Fractions of a millisecond are rounded up.
 *
 * @param headers response headers by lowercase name, with the first value when there are several.
 * @param nowMs the current time in epoch milliseconds, for dates and timestamps.
 * @returns the delay in whole milliseconds, or undefined when none of Retry-After,
 *   X-RateLimit-Reset, X-RateLimit-Reset-Requests, X-RateLimit-Reset-Tokens (checked in that
 *   order, the first usable one winning) gives a usable value.
 */
export function serverDirectedRetryDelayMs(
  headers: Readonly<Record<string, string | undefined>>,
  nowMs: number,
): number | undefined {
  for (const name of RETRY_AFTER_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    const delayMs = parseRetryAfterValue(value, nowMs);
    if (delayMs !== undefined) return delayMs;
  }
  return undefined;
}
