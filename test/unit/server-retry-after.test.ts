import { serverDirectedRetryDelayMs } from '../../lambdas/core/server-retry-after';

const ONE_DAY_MS = 86_400_000;
const ONE_DAY_S = 86_400;
/** Wed, 21 Oct 2015 07:28:00 GMT. */
const NOW_MS = Date.UTC(2015, 9, 21, 7, 28, 0);
const NOW_S = NOW_MS / 1000;

/** The delay for a lone Retry-After header. */
function retryAfter(value: string, nowMs = NOW_MS): number | undefined {
  return serverDirectedRetryDelayMs({ 'retry-after': value }, nowMs);
}

describe('serverDirectedRetryDelayMs', () => {
  describe('integer seconds', () => {
    it.each([
      ['120', 120_000],
      ['1', 1_000],
      ['0', 0],
      ['  30  ', 30_000],
      ['007', 7_000],
      [String(ONE_DAY_S), ONE_DAY_MS],
    ])('returns the delay in ms when the value is %j', (value, expected) => {
      expect(retryAfter(value)).toBe(expected);
    });

    it('returns a fractional number of seconds in ms when the value has a decimal part', () => {
      expect(retryAfter('1.5')).toBe(1_500);
      expect(retryAfter('0.25')).toBe(250);
      expect(retryAfter('1.1')).toBe(1_100);
    });

    it.each([String(ONE_DAY_S + 1), '999999999', '100000'])(
      'returns undefined when %s seconds is more than one day',
      (value) => {
        expect(retryAfter(value)).toBeUndefined();
      },
    );

    it('does not depend on the current time', () => {
      expect(retryAfter('120', 0)).toBe(120_000);
      expect(retryAfter('120', NOW_MS + 12_345)).toBe(120_000);
    });
  });

  describe('unix timestamps in seconds', () => {
    it('returns the time until the timestamp when it is within one day', () => {
      expect(retryAfter(String(NOW_S + 60))).toBe(60_000);
      expect(retryAfter(String(NOW_S + ONE_DAY_S))).toBe(ONE_DAY_MS);
    });

    it('measures from nowMs to the millisecond', () => {
      expect(retryAfter(String(NOW_S + 60), NOW_MS + 400)).toBe(59_600);
    });

    it('returns 0 when the timestamp is now or in the past', () => {
      expect(retryAfter(String(NOW_S))).toBe(0);
      expect(retryAfter(String(NOW_S - 60))).toBe(0);
      expect(retryAfter('1000000000')).toBe(0);
    });

    it('returns undefined when the timestamp is more than one day away', () => {
      expect(retryAfter(String(NOW_S + ONE_DAY_S + 1))).toBeUndefined();
    });

    it('returns undefined for a timestamp in ms, which reads as far in the future', () => {
      expect(retryAfter(String(NOW_MS + 60_000))).toBeUndefined();
    });

    it('reads 999999999 as seconds to wait and 1000000000 as a timestamp', () => {
      // Prepare: a clock set just before the threshold instant (2001-09-09T01:46:40Z).
      const nowMs = 999_999_000 * 1000;

      // Act
      const belowThreshold = retryAfter('999999999', nowMs);
      const atThreshold = retryAfter('1000000000', nowMs);

      // Assess
      expect(belowThreshold).toBeUndefined();
      expect(atThreshold).toBe(1_000_000);
    });
  });

  describe('HTTP dates', () => {
    it('returns the time until the date when it is in the future', () => {
      expect(retryAfter('Wed, 21 Oct 2015 07:29:00 GMT')).toBe(60_000);
      expect(retryAfter('Wed, 21 Oct 2015 09:28:30 GMT')).toBe(7_230_000);
    });

    it('measures from nowMs to the millisecond', () => {
      expect(retryAfter('Wed, 21 Oct 2015 07:29:00 GMT', NOW_MS + 250)).toBe(59_750);
    });

    it('returns 0 when the date is now or in the past', () => {
      expect(retryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0);
      expect(retryAfter('Wed, 21 Oct 2015 07:27:59 GMT')).toBe(0);
      expect(retryAfter('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0);
    });

    it('returns one day when the date is exactly one day away', () => {
      expect(retryAfter('Thu, 22 Oct 2015 07:28:00 GMT')).toBe(ONE_DAY_MS);
    });

    it('returns undefined when the date is more than one day away', () => {
      expect(retryAfter('Thu, 22 Oct 2015 07:28:01 GMT')).toBeUndefined();
      expect(retryAfter('Fri, 01 Jan 2100 00:00:00 GMT')).toBeUndefined();
    });

    it('accepts a one-digit day and crosses month and year ends', () => {
      const newYearsEve = Date.UTC(2015, 11, 31, 23, 59, 0);

      expect(retryAfter('Fri, 1 Jan 2016 00:00:30 GMT', newYearsEve)).toBe(90_000);
    });

    it('accepts 29 February in a leap year', () => {
      const nowMs = Date.UTC(2016, 1, 29, 11, 0, 0);

      expect(retryAfter('Mon, 29 Feb 2016 12:00:00 GMT', nowMs)).toBe(3_600_000);
    });

    it.each([
      'Sun, 29 Feb 2015 12:00:00 GMT',
      'Mon, 31 Nov 2015 07:29:00 GMT',
      'Wed, 00 Oct 2015 07:29:00 GMT',
      'Wed, 21 Oct 2015 24:00:00 GMT',
      'Wed, 21 Oct 2015 07:60:00 GMT',
      'Wed, 21 Oct 2015 07:29:61 GMT',
      'Wed, 21 Oct 2015 07:29:00 UTC',
      'Wed, 21 Oct 2015 07:29:00 +0000',
      'wed, 21 oct 2015 07:29:00 GMT',
      'Wed, 21 Oct 2015',
      'Wednesday, 21-Oct-15 07:29:00 GMT',
      'Wed Oct 21 07:29:00 2015',
      '2015-10-21T07:29:00Z',
    ])('returns undefined for a date that is invalid or not in IMF-fixdate form: %s', (value) => {
      expect(retryAfter(value)).toBeUndefined();
    });
  });

  describe('Go-style durations', () => {
    it.each([
      ['6m5s', 365_000],
      ['1.5h', 5_400_000],
      ['300ms', 300],
      ['1h2m3s4ms', 3_723_004],
      ['2h45m', 9_900_000],
      ['45s', 45_000],
      ['1.1s', 1_100],
      ['0.5s', 500],
      ['.5s', 500],
      ['1.s', 1_000],
      ['0s', 0],
      ['0ms', 0],
      ['1m0s', 60_000],
      ['5s5s', 10_000],
      ['24h', ONE_DAY_MS],
      ['2000000ns', 2],
      ['3000us', 3],
      ['3000µs', 3],
      ['3000μs', 3],
    ])('returns the delay in ms when the value is %s', (value, expected) => {
      expect(retryAfter(value)).toBe(expected);
    });

    it.each([
      ['1ns', 1],
      ['1500000ns', 2],
      ['1us', 1],
      ['2.5ms', 3],
    ])('rounds %s up to whole milliseconds', (value, expected) => {
      expect(retryAfter(value)).toBe(expected);
    });

    it.each(['24h1ns', '25h', '1441m', '86401s', '9999999999h'])(
      'returns undefined when %s is more than one day',
      (value) => {
        expect(retryAfter(value)).toBeUndefined();
      },
    );

    it.each(['1d', '5S', '5 s', '5sec', 's', '1h-5m', '+5s', '5..5s', '5s garbage'])(
      'returns undefined when %j is not a Go duration',
      (value) => {
        expect(retryAfter(value)).toBeUndefined();
      },
    );
  });

  describe('unusable values', () => {
    it.each(['-1', '-5s', '-0.5', '', '   ', 'soon', 'NaN', 'Infinity', '1e3', '0x10', '1,000'])(
      'returns undefined when the value is %j',
      (value) => {
        expect(retryAfter(value)).toBeUndefined();
      },
    );

    it('returns undefined when there are no headers', () => {
      expect(serverDirectedRetryDelayMs({}, NOW_MS)).toBeUndefined();
    });

    it('returns undefined when only unrelated headers are present', () => {
      const headers = { 'content-type': 'text/plain', 'x-ratelimit-remaining': '10', date: '5' };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBeUndefined();
    });

    it('skips headers whose value is undefined', () => {
      const headers = { 'retry-after': undefined, 'x-ratelimit-reset': '7' };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(7_000);
    });

    it('reads only lowercase header names', () => {
      expect(serverDirectedRetryDelayMs({ 'Retry-After': '5' }, NOW_MS)).toBeUndefined();
    });
  });

  describe('headers', () => {
    it.each([
      'retry-after',
      'x-ratelimit-reset',
      'x-ratelimit-reset-requests',
      'x-ratelimit-reset-tokens',
    ])('returns the delay from %s on its own', (name) => {
      expect(serverDirectedRetryDelayMs({ [name]: '12' }, NOW_MS)).toBe(12_000);
      expect(serverDirectedRetryDelayMs({ [name]: '1m30s' }, NOW_MS)).toBe(90_000);
      expect(serverDirectedRetryDelayMs({ [name]: 'Wed, 21 Oct 2015 07:28:10 GMT' }, NOW_MS)).toBe(
        10_000,
      );
      expect(serverDirectedRetryDelayMs({ [name]: String(NOW_S + 20) }, NOW_MS)).toBe(20_000);
    });

    it('prefers Retry-After over every rate-limit header', () => {
      // Prepare
      const headers = {
        'x-ratelimit-reset-tokens': '4',
        'x-ratelimit-reset-requests': '3',
        'x-ratelimit-reset': '2',
        'retry-after': '1',
      };

      // Act
      const delayMs = serverDirectedRetryDelayMs(headers, NOW_MS);

      // Assess
      expect(delayMs).toBe(1_000);
    });

    it('prefers X-RateLimit-Reset over the -Requests and -Tokens variants', () => {
      const headers = {
        'x-ratelimit-reset-tokens': '4s',
        'x-ratelimit-reset-requests': '3s',
        'x-ratelimit-reset': '2s',
      };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(2_000);
    });

    it('prefers X-RateLimit-Reset-Requests over X-RateLimit-Reset-Tokens', () => {
      const headers = { 'x-ratelimit-reset-tokens': '4s', 'x-ratelimit-reset-requests': '3s' };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(3_000);
    });

    it('takes 0 from an earlier header rather than moving on to a later one', () => {
      const headers = { 'retry-after': '0', 'x-ratelimit-reset': '30' };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(0);
    });

    it('falls through to the next header when an earlier one is unparseable', () => {
      const headers = {
        'retry-after': 'later',
        'x-ratelimit-reset': '',
        'x-ratelimit-reset-requests': '-1s',
        'x-ratelimit-reset-tokens': '6m0s',
      };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(360_000);
    });

    it('falls through to the next header when an earlier one is more than one day away', () => {
      const headers = { 'retry-after': '90000', 'x-ratelimit-reset': String(NOW_S + 45) };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBe(45_000);
    });

    it('returns undefined when every header is unusable', () => {
      const headers = {
        'retry-after': 'tomorrow',
        'x-ratelimit-reset': String(NOW_S + 2 * ONE_DAY_S),
        'x-ratelimit-reset-requests': '48h',
        'x-ratelimit-reset-tokens': '-3',
      };

      expect(serverDirectedRetryDelayMs(headers, NOW_MS)).toBeUndefined();
    });
  });
});
