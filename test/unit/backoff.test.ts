import { retryDelayMs } from '../../lambdas/core/backoff';
import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { makeMessage, T0 } from '../helpers/messages';

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
const MESSAGE = makeMessage();

function delay(
  retried: number,
  options: {
    expression?: string;
    headers?: Record<string, string[]>;
    config?: Partial<CoreConfig>;
  } = {},
): number {
  const message = makeMessage({ retryDelayExpression: options.expression });
  return retryDelayMs(
    options.expression === undefined ? MESSAGE : message,
    retried,
    options.headers,
    { ...DEFAULT_CORE_CONFIG, ...options.config },
    T0,
  );
}

describe('retryDelayMs', () => {
  describe('default backoff', () => {
    it.each([
      [0, 7_389], // e^2 s, before the first retry
      [1, 54_598], // e^4 s
      [2, 403_429], // e^6 s
      [3, 2_980_958], // e^8 s
      [4, 22_026_466], // e^10 s
      [5, DAY_MS], // e^12 s is more than a day
    ])('returns %d retries so far as %d ms with coefficient 2', (retried, expectedMs) => {
      expect(delay(retried)).toBe(expectedMs);
    });

    it('never exceeds a day however many retries happened', () => {
      expect(delay(50)).toBe(DAY_MS);
    });

    it('uses the configured coefficient', () => {
      const config = { backoffCoefficient: 2.5 };

      expect(delay(0, { config })).toBe(Math.round(Math.exp(2.5) * SECOND_MS));
      expect(delay(1, { config })).toBe(Math.round(Math.exp(5) * SECOND_MS));
    });

    it('uses the configured cap', () => {
      expect(delay(2, { config: { maxRetryDelayMs: 60 * SECOND_MS } })).toBe(60 * SECOND_MS);
    });
  });

  describe('Upstash-Retry-Delay expression', () => {
    it('returns the expression evaluated with retried bound', () => {
      const expression = '1000 * (1 + retried)';

      expect(delay(0, { expression })).toBe(1_000);
      expect(delay(3, { expression })).toBe(4_000);
    });

    it('is capped by the configured maximum', () => {
      expect(delay(0, { expression: '5000', config: { maxRetryDelayMs: 2_000 } })).toBe(2_000);
    });

    it('is used when the response carries no retry hint', () => {
      const headers = { 'content-type': ['text/plain'] };

      expect(delay(1, { expression: 'pow(2, retried) * 100', headers })).toBe(200);
    });
  });

  describe('server-directed delay', () => {
    it('wins over the default backoff', () => {
      expect(delay(3, { headers: { 'retry-after': ['120'] } })).toBe(120 * SECOND_MS);
    });

    it('wins over an expression', () => {
      const headers = { 'retry-after': ['2'] };

      expect(delay(0, { expression: '60000', headers })).toBe(2 * SECOND_MS);
    });

    it('reads the X-RateLimit-Reset family too', () => {
      expect(delay(0, { headers: { 'x-ratelimit-reset': ['30'] } })).toBe(30 * SECOND_MS);
    });

    it('reads the first value of a repeated header', () => {
      expect(delay(0, { headers: { 'retry-after': ['5', '500'] } })).toBe(5 * SECOND_MS);
    });

    it('is capped by the configured maximum', () => {
      const headers = { 'retry-after': ['120'] };

      expect(delay(0, { headers, config: { maxRetryDelayMs: 60 * SECOND_MS } })).toBe(
        60 * SECOND_MS,
      );
    });

    it('is ignored when it asks for more than a day', () => {
      expect(delay(0, { headers: { 'retry-after': [String(DAY_MS / SECOND_MS + 1)] } })).toBe(
        7_389,
      );
    });
  });
});
