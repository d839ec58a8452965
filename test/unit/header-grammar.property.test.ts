import { validateHeaderName, validateHeaderValue } from 'node:http';
import fc from 'fast-check';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { nextFireTimes, parseCron } from '../../lambdas/core/cron';
import { parseDestination } from '../../lambdas/core/destination';
import { parseDurationMs } from '../../lambdas/core/durations';
import { BadRequestError } from '../../lambdas/core/errors';
import { parsePublishOptions } from '../../lambdas/core/publish-options';
import {
  MAX_NESTING_DEPTH,
  MAX_RETRY_DELAY_MS,
  parseRetryDelayExpression,
  RetryDelayExpressionError,
} from '../../lambdas/core/retry-delay-expression';
import { T0 } from '../helpers/messages';

/**
 * Properties of the header grammar: no input makes a parser throw anything but its own
 * "bad input" error (a 400 at the API), and whatever is accepted is well-formed, so that no
 * invalid value is accepted silently and found out at delivery time.
 */

const config = DEFAULT_CORE_CONFIG;
const RUNS = { numRuns: 500 };

/** Runs `parse`; undefined when it refused the input with `refusal`, rethrows anything else. */
function attempt<T>(parse: () => T, refusal: new (...args: never[]) => Error): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (error instanceof refusal) return undefined;
    throw error;
  }
}

/** Strings that look like the grammar as well as junk: digits, units, signs, spaces, Unicode. */
function grammarish(alphabet: string[], maxLength = 24): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet), maxLength }),
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
  );
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

describe('header grammar (property-based)', () => {
  describe('durations (Upstash-Delay, Upstash-Timeout)', () => {
    it('reads every well-formed duration exactly', () => {
      const group = fc.tuple(fc.integer({ min: 0, max: 999 }), fc.constantFrom('d', 'h', 'm', 's'));
      fc.assert(
        fc.property(fc.array(group, { minLength: 1, maxLength: 4 }), (groups) => {
          const text = groups.map(([amount, unit]) => `${amount}${unit}`).join('');
          const expected = groups.reduce(
            (sum, [amount, unit]) => sum + amount * UNIT_MS[unit as keyof typeof UNIT_MS],
            0,
          );
          expect(parseDurationMs(text, 'Upstash-Delay')).toBe(expected);
        }),
        RUNS,
      );
    });

    it('accepts nothing else: any other input is a 400, never a crash or a strange number', () => {
      const wellFormed = /^(?:\d+(?:\.\d+)?[dhms])+$|^\d+(?:\.\d+)?$/;
      fc.assert(
        fc.property(grammarish([...'0123456789.dhmsDHMS -+e_xµ']), (text) => {
          const ms = attempt(() => parseDurationMs(text, 'Upstash-Delay'), BadRequestError);
          if (ms === undefined) return;
          expect(text.trim()).toMatch(wellFormed);
          expect(Number.isFinite(ms) && ms >= 0 && Number.isInteger(ms)).toBe(true);
        }),
        RUNS,
      );
    });

    it('keeps an accepted delay and timeout within the configured limits', () => {
      fc.assert(
        fc.property(
          grammarish([...'0123456789.dhms ']),
          grammarish([...'0123456789.dhms ']),
          (delay, timeout) => {
            const headers = { 'upstash-delay': delay, 'upstash-timeout': timeout };
            const options = attempt(() => parsePublishOptions(headers, config), BadRequestError);
            if (options === undefined) return;
            expect(options.due).toEqual({ kind: 'delay', delayMs: expect.any(Number) });
            const { delayMs } = options.due as { delayMs: number };
            expect(delayMs).toBeGreaterThanOrEqual(0);
            expect(delayMs).toBeLessThanOrEqual(config.maxDelayMs);
            expect(options.timeoutMs).toBeGreaterThan(0);
            expect(options.timeoutMs).toBeLessThanOrEqual(config.maxTimeoutMs);
          },
        ),
        RUNS,
      );
    });
  });

  describe('Upstash-Retries and Upstash-Not-Before', () => {
    it('accepts exactly the whole numbers up to the cap', () => {
      fc.assert(
        fc.property(
          fc.oneof(grammarish([...'0123456789 -+.e']), fc.nat({ max: 20 }).map(String)),
          (value) => {
            const options = attempt(
              () => parsePublishOptions({ 'upstash-retries': value }, config),
              BadRequestError,
            );
            const valid = /^\d+$/.test(value.trim()) && Number(value.trim()) <= config.maxRetries;
            expect(options?.maxRetries).toBe(valid ? Number(value.trim()) : undefined);
          },
        ),
        RUNS,
      );
    });

    it('accepts a Unix time in seconds and nothing else', () => {
      fc.assert(
        fc.property(grammarish([...'0123456789 -+.eT:Z']), (value) => {
          const options = attempt(
            () => parsePublishOptions({ 'upstash-not-before': value }, config),
            BadRequestError,
          );
          if (options === undefined) return;
          expect(value.trim()).toMatch(/^\d+$/);
          expect(options.due).toEqual({ kind: 'at', timeMs: Number(value.trim()) * 1000 });
        }),
        RUNS,
      );
    });
  });

  describe('Upstash-Retry-Delay', () => {
    const number = fc.integer({ min: 0, max: 100_000 }).map(String);
    const expression = fc.letrec<{ expr: string }>((tie) => ({
      expr: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        number,
        fc.constant('retried'),
        fc
          .tuple(tie('expr'), fc.constantFrom('+', '-', '*', '/'), tie('expr'))
          .map(([a, op, b]) => `${a} ${op} ${b}`),
        tie('expr').map((inner) => `(${inner})`),
        tie('expr').map((inner) => `-${inner}`),
        fc
          .tuple(fc.constantFrom('pow', 'min', 'max'), tie('expr'), tie('expr'))
          .map(([fn, a, b]) => `${fn}(${a}, ${b})`),
        fc
          .tuple(fc.constantFrom('exp', 'sqrt', 'abs', 'floor', 'ceil', 'round'), tie('expr'))
          .map(([fn, a]) => `${fn}(${a})`),
      ),
    })).expr;

    it('evaluates every expression of the grammar to a whole delay within a day', () => {
      fc.assert(
        fc.property(
          expression.filter((source) => source.length <= 256),
          (source) => {
            const parsed = attempt(
              () => parseRetryDelayExpression(source),
              RetryDelayExpressionError,
            );
            // Only nesting past the depth limit is refused among well-formed expressions.
            if (parsed === undefined) return;
            for (let retried = 0; retried <= 20; retried += 1) {
              const delay = parsed.evaluate(retried);
              expect(Number.isInteger(delay)).toBe(true);
              expect(delay).toBeGreaterThanOrEqual(0);
              expect(delay).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS);
            }
          },
        ),
        RUNS,
      );
    });

    it('costs one pass over the expression per evaluation: the worst case runs 10,000 times in well under a second', () => {
      // The longest, deepest expressions accepted: nested calls up to the depth limit, and a
      // flat chain up to the length limit. The evaluator has no loop the input controls.
      const nested = `${'pow(2, '.repeat(MAX_NESTING_DEPTH - 1)}retried${')'.repeat(MAX_NESTING_DEPTH - 1)}`;
      const flat = `retried${' * retried'.repeat(24)}`;
      for (const source of [nested, flat]) {
        const parsed = parseRetryDelayExpression(source);
        const started = performance.now();
        for (let i = 0; i < 10_000; i += 1) parsed.evaluate(i % 10);
        expect(performance.now() - started).toBeLessThan(1_000);
      }
    });

    it('runs no code: anything but numbers, retried, the listed functions and + - * / ( ) , is refused', () => {
      const codeLike = fc.oneof(
        grammarish([...'0123456789retid()+-*/,. ;=>`[]{}\'"!?:&|%^~$#@\\']),
        fc
          .array(
            fc.constantFrom(
              'retried',
              'pow',
              'constructor',
              '__proto__',
              'prototype',
              'process',
              'require',
              'this',
              'globalThis',
              'Function',
              'eval',
              'while',
              'for',
              'import',
              '=>',
              '.',
              '(',
              ')',
              '[',
              ']',
              ',',
              ';',
              '`',
              '1',
              '+',
              '*',
            ),
            { maxLength: 12 },
          )
          .map((tokens) => tokens.join(' ')),
      );
      const allowed =
        /^(?:\s|\d|\.|[+\-*/(),]|retried|pow|exp|sqrt|abs|floor|ceil|round|min|max)*$/;
      fc.assert(
        fc.property(codeLike, (source) => {
          const parsed = attempt(
            () => parseRetryDelayExpression(source),
            RetryDelayExpressionError,
          );
          if (parsed === undefined) return;
          expect(source).toMatch(allowed);
          const delay = parsed.evaluate(3);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS);
        }),
        RUNS,
      );
    });

    it('refuses nesting past the limit instead of recursing until the stack gives out', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: MAX_NESTING_DEPTH + 1, max: 5_000 }),
          fc.constantFrom('(', 'abs(', '-', 'pow(2, '),
          (depth, opener) => {
            const closer = opener === '-' ? '' : ')';
            const source = `${opener.repeat(depth)}1${closer.repeat(depth)}`;
            expect(() => parseRetryDelayExpression(source)).toThrow(RetryDelayExpressionError);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  describe('Upstash-Deduplication-Id and Upstash-Label', () => {
    it('accepts a deduplication id exactly when it is 1 to 256 characters without ":" or whitespace', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            grammarish([...'ab:- \t\u00a0\u2028.'], 300),
            fc.string({ unit: 'binary', minLength: 250, maxLength: 260 }),
          ),
          (id) => {
            const options = attempt(
              () => parsePublishOptions({ 'upstash-deduplication-id': id }, config),
              BadRequestError,
            );
            const valid = id.length >= 1 && id.length <= 256 && !/[:\s]/.test(id);
            expect(options?.dedup).toEqual(valid ? { kind: 'id', id } : undefined);
          },
        ),
        RUNS,
      );
    });

    it('accepts only labels of letters, digits, "-", "_" and "."', () => {
      fc.assert(
        fc.property(grammarish([...'aZ09-_.,; /:'], 40), (value) => {
          const options = attempt(
            () => parsePublishOptions({ 'upstash-label': value }, config),
            BadRequestError,
          );
          if (options === undefined) return;
          for (const label of options.labels) expect(label).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
        }),
        RUNS,
      );
    });
  });

  describe('Upstash-Flow-Control-Value and Upstash-Redact-Fields', () => {
    it('reads every well-formed value exactly, however it is spaced and cased', () => {
      const field = fc.oneof(
        fc.tuple(fc.constant('parallelism'), fc.integer({ min: 1, max: 100_000 })),
        fc.tuple(fc.constant('rate'), fc.integer({ min: 1, max: 1_000_000 })),
        fc.tuple(fc.constant('period'), fc.integer({ min: 1, max: 604_800 })),
      );
      fc.assert(
        fc.property(
          fc.uniqueArray(field, { minLength: 1, maxLength: 3, selector: ([name]) => name }),
          fc.constantFrom(',', ', ', ' , '),
          fc.boolean(),
          (fields, separator, upper) => {
            const text = fields
              .map(
                ([name, value]) =>
                  `${upper ? name.toUpperCase() : name}=${value}${name === 'period' ? 's' : ''}`,
              )
              .join(separator);
            const values = Object.fromEntries(fields) as Record<string, number>;
            const parse = () =>
              parsePublishOptions(
                { 'upstash-flow-control-key': 'k', 'upstash-flow-control-value': text },
                config,
              ).flowControl;
            if (values.parallelism === undefined && values.rate === undefined) {
              expect(parse).toThrow(BadRequestError);
              return;
            }
            expect(parse()).toEqual({
              key: 'k',
              ...(values.parallelism !== undefined && { parallelism: values.parallelism }),
              ...(values.rate !== undefined && { rate: values.rate }),
              ...((values.rate !== undefined || values.period !== undefined) && {
                periodSec: values.period ?? 1,
              }),
            });
          },
        ),
        RUNS,
      );
    });

    it('accepts only limits in range and redaction fields it knows, else a 400', () => {
      fc.assert(
        fc.property(
          grammarish([...'parelismtod=0123456789, ']),
          grammarish([...'bodyheaders[]Auth, ']),
          (value, fields) => {
            const options = attempt(
              () =>
                parsePublishOptions(
                  {
                    'upstash-flow-control-key': 'k',
                    'upstash-flow-control-value': value,
                    'upstash-redact-fields': fields,
                  },
                  config,
                ),
              BadRequestError,
            );
            if (!options) return;
            const { parallelism, rate, periodSec } = options.flowControl!;
            expect(parallelism === undefined || (parallelism >= 1 && parallelism <= 100_000)).toBe(
              true,
            );
            expect(rate === undefined || (rate >= 1 && rate <= 1_000_000)).toBe(true);
            expect(periodSec === undefined || (periodSec >= 1 && periodSec <= 604_800)).toBe(true);
            for (const name of options.redaction?.headers ?? [])
              expect(() => validateHeaderName(name)).not.toThrow();
          },
        ),
        RUNS,
      );
    });
  });

  describe('Upstash-Cron', () => {
    const field = fc.oneof(
      fc.constantFrom(
        '*',
        '*/5',
        '1-5',
        '0',
        '59',
        '60',
        'MON-FRI',
        'JAN',
        '?',
        'L',
        '#',
        '7',
        '1,2,3',
      ),
      grammarish([...'0123456789*/,-'], 6),
    );
    const cron = fc.oneof(
      fc.array(field, { minLength: 4, maxLength: 7 }).map((fields) => fields.join(' ')),
      fc
        .tuple(
          fc.constantFrom('CRON_TZ=Europe/Berlin ', 'CRON_TZ=Nowhere/City ', 'TZ=UTC '),
          fc.array(field, { minLength: 5, maxLength: 5 }),
        )
        .map(([prefix, fields]) => prefix + fields.join(' ')),
      grammarish([...'0123456789*/,- @'], 40),
    );

    it('refuses with a 400 or accepts a schedule that fires, in order, in the future', () => {
      fc.assert(
        fc.property(cron, (value) => {
          const schedule = attempt(() => parseCron(value), BadRequestError);
          if (schedule === undefined) return;
          const times = nextFireTimes(schedule, T0, 3);
          expect(times.length).toBeGreaterThan(0);
          expect(times[0]).toBeGreaterThan(T0);
          for (let i = 1; i < times.length; i += 1) expect(times[i]).toBeGreaterThan(times[i - 1]!);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('destinations and callback URLs', () => {
    const urlish = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc
        .tuple(
          fc.constantFrom(
            'http://',
            'https://',
            'http:/',
            'https%3A%2F%2F',
            'ftp://',
            'HTTP://',
            '',
          ),
          grammarish([...'abc.-:@[]%/?#&= 019'], 30),
        )
        .map(([scheme, rest]) => scheme + rest),
      grammarish([...'abc.-_:/%'], 30),
    );

    it('turns the publish path into an http(s) URL with a host, a group name, or a 400', () => {
      fc.assert(
        fc.property(
          urlish,
          grammarish([...'a=&%+qstash_token-upstash-retries'], 30),
          (path, query) => {
            const destination = attempt(() => parseDestination(path, query), BadRequestError);
            if (destination === undefined) return;
            if (destination.kind === 'group') {
              expect(destination.name).toMatch(/^[A-Za-z0-9._-]+$/);
              return;
            }
            const url = new URL(destination.url);
            expect(['http:', 'https:']).toContain(url.protocol);
            expect(url.hostname).not.toBe('');
            expect(url.username + url.password).toBe('');
          },
        ),
        RUNS,
      );
    });

    it('accepts a callback only as an http(s) URL with a host and no credentials', () => {
      fc.assert(
        fc.property(urlish, (callback) => {
          const options = attempt(
            () => parsePublishOptions({ 'upstash-callback': callback }, config),
            BadRequestError,
          );
          if (options === undefined) return;
          const url = new URL(options.callback!.url);
          expect(['http:', 'https:']).toContain(url.protocol);
          expect(url.hostname).not.toBe('');
          expect(url.username + url.password).toBe('');
        }),
        RUNS,
      );
    });
  });

  describe('forwarded headers', () => {
    it('forwards only names and values that an HTTP request can carry', () => {
      fc.assert(
        fc.property(
          fc.dictionary(
            grammarish([...'aZ-_.!#:; ()@\u00e9'], 12).map(
              (name) => `upstash-forward-${name.toLowerCase()}`,
            ),
            grammarish([...'aZ 09\t\r\n\u0000\u00e9\u20ac'], 20),
            { maxKeys: 4 },
          ),
          (headers) => {
            const options = attempt(() => parsePublishOptions(headers, config), BadRequestError);
            if (options === undefined) return;
            for (const [name, values] of Object.entries(options.header)) {
              expect(() => validateHeaderName(name)).not.toThrow();
              for (const value of values)
                expect(() => validateHeaderValue(name, value)).not.toThrow();
            }
          },
        ),
        RUNS,
      );
    });
  });

  it('refuses any mix of headers with a 400 at worst, never another error', () => {
    const name = fc.constantFrom(
      'upstash-method',
      'upstash-delay',
      'upstash-not-before',
      'upstash-retries',
      'upstash-retry-delay',
      'upstash-timeout',
      'upstash-callback',
      'upstash-callback-retries',
      'upstash-callback-delay',
      'upstash-failure-callback',
      'upstash-failure-callback-timeout',
      'upstash-deduplication-id',
      'upstash-content-based-deduplication',
      'upstash-label',
      'upstash-header-forward',
      'upstash-forward-x',
      'upstash-cron',
      'upstash-flow-control-key',
      'upstash-flow-control-value',
      'upstash-redact-fields',
      'content-type',
      'x-custom',
    );
    fc.assert(
      fc.property(
        fc.dictionary(name, grammarish([...'0123456789sdm retid()*,:/.htpTRUE=[]'], 30)),
        (headers) => {
          attempt(() => parsePublishOptions(headers, config), BadRequestError);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
