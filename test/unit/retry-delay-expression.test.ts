import {
  MAX_EXPRESSION_LENGTH,
  MAX_NESTING_DEPTH,
  MAX_RETRY_DELAY_MS,
  parseRetryDelayExpression,
  RetryDelayExpressionError,
} from '../../lambdas/core/retry-delay-expression';

const ONE_DAY_MS = 86_400_000;

/** Parses and evaluates in one go, for tests that only care about the value. */
function evaluate(source: string, retried = 0): number {
  return parseRetryDelayExpression(source).evaluate(retried);
}

/** The error parseRetryDelayExpression throws for `source`, failing the test if it does not. */
function parseError(source: string): RetryDelayExpressionError {
  try {
    parseRetryDelayExpression(source);
  } catch (error) {
    expect(error).toBeInstanceOf(RetryDelayExpressionError);
    return error as RetryDelayExpressionError;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be refused`);
}

describe('parseRetryDelayExpression', () => {
  describe('documented examples', () => {
    it.each([
      ['1000', [1000, 1000, 1000, 1000]],
      ['1000 * (1 + retried)', [1000, 2000, 3000, 4000]],
      ['pow(2, retried) * 1000', [1000, 2000, 4000, 8000]],
      ['max(1000, pow(2, retried) * 100)', [1000, 1000, 1000, 1000]],
      ['max(1000, pow(2, retried) * 400)', [1000, 1000, 1600, 3200]],
    ])('returns the expected delays for %s when retried is 0..3', (source, expected) => {
      // Prepare
      const expression = parseRetryDelayExpression(source);

      // Act
      const delays = [0, 1, 2, 3].map((retried) => expression.evaluate(retried));

      // Assess
      expect(delays).toEqual(expected);
    });

    it('keeps the source exactly as given', () => {
      expect(parseRetryDelayExpression('  pow(2,retried) ').source).toBe('  pow(2,retried) ');
    });

    it('can be evaluated many times from one parse', () => {
      const expression = parseRetryDelayExpression('retried * 10');

      expect(expression.evaluate(5)).toBe(50);
      expect(expression.evaluate(1)).toBe(10);
      expect(expression.evaluate(5)).toBe(50);
    });
  });

  describe('operators', () => {
    it.each([
      ['7 + 3', 10],
      ['7 - 3', 4],
      ['7 * 3', 21],
      ['7 / 2', 4], // 3.5 rounds to 4
      ['9 / 3', 3],
      ['-(-5)', 5],
      ['+5', 5],
      ['10 - -5', 15],
      ['10 - +5', 5],
      ['--5', 5],
    ])('returns the value of %s', (source, expected) => {
      expect(evaluate(source)).toBe(expected);
    });

    it.each([
      ['1 + 2 * 3', 7],
      ['2 * 3 + 1', 7],
      ['(1 + 2) * 3', 9],
      ['10 - 2 - 3', 5], // left-associative: (10 - 2) - 3
      ['100 / 10 / 2', 5], // left-associative: (100 / 10) / 2
      ['20 - 6 / 2', 17],
      ['-2 * 3 + 10', 4],
      ['10 + -2 * 3', 4],
      ['-(2 + 3) + 10', 5],
      ['2 * -3 + 10', 4],
    ])('applies precedence and associativity to %s', (source, expected) => {
      expect(evaluate(source)).toBe(expected);
    });

    it('binds unary minus tighter than multiplication', () => {
      // -2 * 3 is -6 either way, so check it inside something that keeps the sign visible.
      expect(evaluate('abs(-2 * 3)')).toBe(6);
      expect(evaluate('-2 * 3 + 7')).toBe(1);
    });
  });

  describe('numbers', () => {
    it.each([
      ['1000', 1000],
      ['1.5 * 1000', 1500],
      ['.5 * 1000', 500],
      ['0.25 * 1000', 250],
      ['007', 7],
    ])('reads the literal in %s', (source, expected) => {
      expect(evaluate(source)).toBe(expected);
    });
  });

  describe('functions', () => {
    it.each([
      ['pow(2, 10)', 1024],
      ['pow(10, 0)', 1],
      ['exp(0) * 1000', 1000],
      ['exp(1) * 1000', 2718],
      ['sqrt(16) * 100', 400],
      ['abs(-1500)', 1500],
      ['abs(1500)', 1500],
      ['floor(2.9) * 100', 200],
      ['ceil(2.1) * 100', 300],
      ['round(2.5) * 100', 300],
      ['round(2.4) * 100', 200],
      ['min(100, 200)', 100],
      ['min(200, 100)', 100],
      ['max(100, 200)', 200],
      ['max(200, 100)', 200],
    ])('returns the value of %s', (source, expected) => {
      expect(evaluate(source)).toBe(expected);
    });

    it('evaluates nested calls and calls over the variable', () => {
      const expression = parseRetryDelayExpression(
        'min(60000, max(500, floor(sqrt(pow(retried, 2))) * 1000))',
      );

      expect([0, 1, 5, 100].map((n) => expression.evaluate(n))).toEqual([500, 1000, 5000, 60000]);
    });
  });

  describe('whitespace', () => {
    it('accepts spaces, tabs and newlines anywhere between tokens', () => {
      expect(evaluate(' \tmax ( 1000 ,\n pow ( 2 , retried ) * 100 ) \t', 5)).toBe(3200);
    });

    it('accepts no whitespace at all', () => {
      expect(evaluate('max(1000,pow(2,retried)*100)', 5)).toBe(3200);
    });
  });

  describe('evaluate results', () => {
    it('rounds a fractional result to the nearest millisecond', () => {
      expect(evaluate('1000 / 3')).toBe(333);
      expect(evaluate('2000 / 3')).toBe(667);
    });

    it('clamps a result above one day to one day', () => {
      expect(MAX_RETRY_DELAY_MS).toBe(ONE_DAY_MS);
      expect(evaluate('86400000 + 1')).toBe(ONE_DAY_MS);
      expect(evaluate('pow(2, retried) * 1000', 40)).toBe(ONE_DAY_MS);
    });

    it('keeps a result of exactly one day', () => {
      expect(evaluate('24 * 60 * 60 * 1000')).toBe(ONE_DAY_MS);
      expect(evaluate('86399999')).toBe(86_399_999);
    });

    it('clamps a negative result to 0', () => {
      expect(evaluate('1000 - 5000')).toBe(0);
      expect(evaluate('1000 - 1000 * retried', 3)).toBe(0);
    });

    it('returns +0, never -0, for a tiny negative result', () => {
      expect(Object.is(evaluate('-0.3'), 0)).toBe(true);
      expect(Object.is(evaluate('-0'), 0)).toBe(true);
    });

    it('returns the maximum when the result is +Infinity', () => {
      expect(evaluate('1 / 0')).toBe(ONE_DAY_MS);
      expect(evaluate('exp(1000)')).toBe(ONE_DAY_MS);
      expect(evaluate('1000 / retried', 0)).toBe(ONE_DAY_MS);
    });

    it('returns 0 when the result is -Infinity', () => {
      expect(evaluate('-1 / 0')).toBe(0);
      expect(evaluate('-exp(1000)')).toBe(0);
    });

    it('returns 0 when the result is NaN', () => {
      expect(evaluate('sqrt(-1)')).toBe(0);
      expect(evaluate('0 / 0')).toBe(0);
      expect(evaluate('max(1000, sqrt(-1))')).toBe(0);
    });

    it('always returns an integer within [0, one day]', () => {
      const expression = parseRetryDelayExpression('pow(1.7, retried) * 333.3 - 500');

      for (let retried = 0; retried < 100; retried += 1) {
        const delay = expression.evaluate(retried);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ONE_DAY_MS);
      }
    });
  });

  describe('errors', () => {
    it('sets the error name', () => {
      const error = parseError('foo(1)');

      expect(error.name).toBe('RetryDelayExpressionError');
      expect(error).toBeInstanceOf(Error);
    });

    it.each(['', '   ', '\t\n'])('throws when the source is empty (%j)', (source) => {
      expect(parseError(source).message).toBe('expression is empty');
    });

    it('throws naming the allowed functions when the function is unknown', () => {
      const error = parseError('1000 * foo(2)');

      expect(error.message).toBe(
        'unknown function "foo" at position 7; ' +
          'allowed: pow, exp, sqrt, abs, floor, ceil, round, min, max',
      );
      expect(error.position).toBe(7);
    });

    it.each(['Pow(2, 1)', 'MAX(1, 2)', 'log(10)', 'toString(1)', 'constructor(1)', 'retried(1)'])(
      'throws unknown function for %s (case-sensitive; prototype names are not functions)',
      (source) => {
        expect(parseError(source).message).toMatch(
          /^unknown function "\w+" at position 0; allowed:/,
        );
      },
    );

    it('throws naming the only variable when the variable is unknown', () => {
      const error = parseError('1000 * x');

      expect(error.message).toBe(
        'unknown variable "x" at position 7; the only variable is "retried"',
      );
      expect(error.position).toBe(7);
    });

    it.each(['Retried', 'retries', 'constructor', '__proto__'])(
      'throws unknown variable for %s',
      (source) => {
        expect(parseError(source).message).toBe(
          `unknown variable "${source}" at position 0; the only variable is "retried"`,
        );
      },
    );

    it('throws when a function name is used without parentheses', () => {
      expect(parseError('pow * 2').message).toBe(
        'function "pow" at position 0 must be called with parentheses, e.g. pow(...)',
      );
    });

    it.each([
      ['pow(2)', 'pow takes 2 arguments, got 1 (at position 0)'],
      ['pow(1, 2, 3)', 'pow takes 2 arguments, got 3 (at position 0)'],
      ['1 + min()', 'min takes 2 arguments, got 0 (at position 4)'],
      ['max(1)', 'max takes 2 arguments, got 1 (at position 0)'],
      ['sqrt(1, 2)', 'sqrt takes 1 argument, got 2 (at position 0)'],
      ['exp()', 'exp takes 1 argument, got 0 (at position 0)'],
      ['abs(1, 2)', 'abs takes 1 argument, got 2 (at position 0)'],
      ['floor()', 'floor takes 1 argument, got 0 (at position 0)'],
      ['ceil(1, 2)', 'ceil takes 1 argument, got 2 (at position 0)'],
      ['round()', 'round takes 1 argument, got 0 (at position 0)'],
    ])('throws on the wrong number of arguments in %s', (source, message) => {
      expect(parseError(source).message).toBe(message);
    });

    it.each([
      ['(1 + 2', 'expected ")" at position 6, found end of expression'],
      ['((1)', 'expected ")" at position 4, found end of expression'],
      ['pow(2, 3', 'expected ")" at position 8, found end of expression'],
      ['(1 2)', 'expected ")" at position 3, found "2"'],
      ['1 + 2)', 'unexpected ")" at position 5'],
      [')', 'unexpected ")" at position 0'],
      ['()', 'unexpected ")" at position 1'],
    ])('throws on unbalanced parentheses in %s', (source, message) => {
      expect(parseError(source).message).toBe(message);
    });

    it.each([
      ['1000 retried', 'unexpected "retried" at position 5'],
      ['1000 1000', 'unexpected "1000" at position 5'],
      ['1e3', 'unexpected "e3" at position 1'],
      ['1..2', 'unexpected "." at position 1'],
      ['1000,', 'unexpected "," at position 4'],
    ])('throws on trailing garbage in %s', (source, message) => {
      expect(parseError(source).message).toBe(message);
    });

    it.each([
      ['{1000}', 'unexpected "{" at position 0'],
      ['1000 * {2}', 'unexpected "{" at position 7'],
      ['2 ^ 3', 'unexpected "^" at position 2'],
      ['2 ** 3', 'unexpected "*" at position 3'],
      ['1000 % 7', 'unexpected "%" at position 5'],
      ['1000;', 'unexpected ";" at position 4'],
      ['"1000"', 'unexpected """ at position 0'],
      ['1000 💥', 'unexpected "💥" at position 5'],
    ])('throws on a character outside the grammar in %s', (source, message) => {
      expect(parseError(source).message).toBe(message);
    });

    it.each([
      ['1 +', 'unexpected end of expression at position 3'],
      ['* 2', 'unexpected "*" at position 0'],
      ['1 + * 2', 'unexpected "*" at position 4'],
      ['-', 'unexpected end of expression at position 1'],
      ['pow(, 2)', 'unexpected "," at position 4'],
      ['pow(2,)', 'unexpected ")" at position 6'],
    ])('throws on a missing operand in %s', (source, message) => {
      expect(parseError(source).message).toBe(message);
    });

    it.each([
      ['alert(1)', /^unknown function "alert"/],
      ['process.exit(1)', /^unexpected "\." at position 7$/],
      ['this', /^unknown variable "this"/],
      ['retried = 5', /^unexpected "=" at position 8$/],
      ['[].constructor', /^unexpected "\[" at position 0$/],
    ])('refuses JavaScript that is not part of the grammar: %s', (source, message) => {
      expect(parseError(source).message).toMatch(message);
    });
  });

  describe('limits', () => {
    it('accepts a source of exactly MAX_EXPRESSION_LENGTH characters', () => {
      expect(MAX_EXPRESSION_LENGTH).toBe(256);
      const source = `1000${' '.repeat(MAX_EXPRESSION_LENGTH - 4)}`;

      expect(evaluate(source)).toBe(1000);
    });

    it('throws when the source is longer than MAX_EXPRESSION_LENGTH', () => {
      const source = `1000${' '.repeat(MAX_EXPRESSION_LENGTH - 3)}`;

      expect(parseError(source).message).toBe(
        'expression is 257 characters long; the maximum is 256',
      );
    });

    it('accepts parentheses nested exactly MAX_NESTING_DEPTH deep', () => {
      expect(MAX_NESTING_DEPTH).toBe(32);
      const source = `${'('.repeat(MAX_NESTING_DEPTH)}1000${')'.repeat(MAX_NESTING_DEPTH)}`;

      expect(evaluate(source)).toBe(1000);
    });

    it('throws when parentheses are nested deeper than MAX_NESTING_DEPTH', () => {
      const depth = MAX_NESTING_DEPTH + 1;
      const source = `${'('.repeat(depth)}1000${')'.repeat(depth)}`;

      const error = parseError(source);

      expect(error.message).toBe(
        'expression nested too deeply at position 32; the maximum depth is 32',
      );
      expect(error.position).toBe(MAX_NESTING_DEPTH);
    });

    it('counts function calls and unary operators towards the nesting depth', () => {
      const calls = `${'abs('.repeat(MAX_NESTING_DEPTH + 1)}1${')'.repeat(MAX_NESTING_DEPTH + 1)}`;
      const unary = `${'-'.repeat(MAX_NESTING_DEPTH + 1)}1`;

      expect(parseError(calls).message).toMatch(/^expression nested too deeply/);
      expect(parseError(unary).message).toMatch(/^expression nested too deeply/);
      expect(evaluate(`${'-'.repeat(MAX_NESTING_DEPTH)}1000`)).toBe(1000);
    });

    it('throws quickly, without overflowing the stack, on 10,000 nested parentheses', () => {
      // Prepare
      const source = `${'('.repeat(10_000)}1${')'.repeat(10_000)}`;
      const started = performance.now();

      // Act
      const error = parseError(source);

      // Assess
      expect(error.message).toBe('expression is 20001 characters long; the maximum is 256');
      expect(performance.now() - started).toBeLessThan(100);
    });

    it('evaluates the longest chain of operators the length limit allows', () => {
      const additions = Math.floor((MAX_EXPRESSION_LENGTH - 1) / 2);
      const source = `1${'+1'.repeat(additions)}`;

      expect(evaluate(source)).toBe(additions + 1);
    });
  });
});
