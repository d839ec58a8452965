import { parseDurationMs } from '../../lambdas/core/durations';
import { BadRequestError } from '../../lambdas/core/errors';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const HEADER = 'Upstash-Delay';

describe('parseDurationMs', () => {
  it.each([
    ['50s', 50 * SECOND_MS],
    ['3m', 3 * MINUTE_MS],
    ['10h', 10 * HOUR_MS],
    ['1d', DAY_MS],
    ['1d10h30m', DAY_MS + 10 * HOUR_MS + 30 * MINUTE_MS],
    ['2h15s', 2 * HOUR_MS + 15 * SECOND_MS],
    ['1.5s', 1_500],
    ['0s', 0],
  ])('returns the milliseconds of %j', (value, expectedMs) => {
    expect(parseDurationMs(value, HEADER)).toBe(expectedMs);
  });

  it.each([
    ['30', 30 * SECOND_MS],
    ['0', 0],
    ['2.5', 2_500],
  ])('returns %j taken as seconds when the value is plain digits', (value, expectedMs) => {
    expect(parseDurationMs(value, HEADER)).toBe(expectedMs);
  });

  it('returns the duration when the value has surrounding whitespace', () => {
    expect(parseDurationMs('  5m ', HEADER)).toBe(5 * MINUTE_MS);
  });

  it.each(['', '   ', '10x', '-5s', 's', '1 d', '1d 2h', 'abc', '1.s', '.5s', '5S'])(
    'throws a BadRequestError naming the header when the value is %j',
    (value) => {
      let thrown: unknown;
      try {
        parseDurationMs(value, HEADER);
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(BadRequestError);
      expect((thrown as BadRequestError).status).toBe(400);
      expect((thrown as BadRequestError).message).toContain(HEADER);
      expect((thrown as BadRequestError).message).toContain(`"${value}"`);
    },
  );

  it('names whichever header it was given in the error', () => {
    expect(() => parseDurationMs('10x', 'Upstash-Timeout')).toThrow(/Upstash-Timeout/);
  });
});
