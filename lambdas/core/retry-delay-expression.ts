/**
 * QStash's `Upstash-Retry-Delay` header: a small arithmetic expression over `retried` giving the
 * delay before the next retry in milliseconds, e.g. `pow(2, retried) * 1000`.
 *
 * The expression comes from an untrusted publisher and is evaluated on every retry, so it is
 * parsed once by a hand-written recursive-descent parser into closures: no `eval`, no loops the
 * input can control, and both its length and its nesting depth are bounded so a hostile header
 * fails with an error at publish time instead of exhausting the stack.
 */

/** Longer sources are refused; real retry formulas are a few dozen characters. */
export const MAX_EXPRESSION_LENGTH = 256;

/**
 * Deepest nesting of parentheses, function calls and unary operators accepted. Keeps the parser's
 * and the evaluator's recursion far from the stack limit whatever the input.
 */
export const MAX_NESTING_DEPTH = 32;

/** The longest delay an expression can produce: one day, in milliseconds. */
export const MAX_RETRY_DELAY_MS = 86_400_000;

/** The only variable an expression may use. */
const RETRIED_VARIABLE = 'retried';

/** A parsed `Upstash-Retry-Delay` expression, ready to be evaluated on each retry. */
export type RetryDelayExpression = {
  /** The expression exactly as the publisher sent it. */
  readonly source: string;
  /**
   * The delay before the next retry, in whole milliseconds within [0, MAX_RETRY_DELAY_MS].
   *
   * A result that is not a finite number is not an error, since it only shows up for some values
   * of `retried` long after the message was accepted: +Infinity (overflow, `1 / 0`) becomes the
   * maximum, while NaN (`sqrt(-1)`, `0 / 0`) and -Infinity become 0, i.e. retry immediately.
   *
   * @param retried how many retries have happened so far: 0 before the first retry.
   */
  evaluate(retried: number): number;
};

/** Thrown by parseRetryDelayExpression with a message saying what is wrong and where. */
export class RetryDelayExpressionError extends Error {
  /** Zero-based index into the source where the problem was found, when there is one. */
  readonly position: number | undefined;

  constructor(message: string, position?: number) {
    super(message);
    this.name = 'RetryDelayExpressionError';
    this.position = position;
  }
}

type Evaluator = (retried: number) => number;

type MathFunction = { readonly arity: number; readonly apply: (args: number[]) => number };

// A Map rather than an object literal so that names like `toString` or `constructor` are unknown
// functions instead of reaching Object.prototype.
const FUNCTIONS: ReadonlyMap<string, MathFunction> = new Map<string, MathFunction>([
  ['pow', { arity: 2, apply: ([x = 0, y = 0]) => x ** y }],
  ['exp', { arity: 1, apply: ([x = 0]) => Math.exp(x) }],
  ['sqrt', { arity: 1, apply: ([x = 0]) => Math.sqrt(x) }],
  ['abs', { arity: 1, apply: ([x = 0]) => Math.abs(x) }],
  ['floor', { arity: 1, apply: ([x = 0]) => Math.floor(x) }],
  ['ceil', { arity: 1, apply: ([x = 0]) => Math.ceil(x) }],
  ['round', { arity: 1, apply: ([x = 0]) => Math.round(x) }],
  ['min', { arity: 2, apply: ([x = 0, y = 0]) => Math.min(x, y) }],
  ['max', { arity: 2, apply: ([x = 0, y = 0]) => Math.max(x, y) }],
]);

const ALLOWED_FUNCTIONS = [...FUNCTIONS.keys()].join(', ');

type TokenKind = 'number' | 'identifier' | 'operator' | 'end';

type Token = { readonly kind: TokenKind; readonly text: string; readonly position: number };

const WHITESPACE = /\s+/y;
// `.5` is accepted as JavaScript and Go do; exponents (`1e3`) are not part of the grammar.
const NUMBER = /\d+(?:\.\d+)?|\.\d+/y;
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;
const OPERATORS = new Set(['+', '-', '*', '/', '(', ')', ',']);

function describe(token: Token): string {
  return token.kind === 'end' ? 'end of expression' : `"${token.text}"`;
}

function unexpected(token: Token): RetryDelayExpressionError {
  return new RetryDelayExpressionError(
    `unexpected ${describe(token)} at position ${token.position}`,
    token.position,
  );
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  const matchAt = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = position;
    return pattern.exec(source)?.[0];
  };
  while (position < source.length) {
    const space = matchAt(WHITESPACE);
    if (space !== undefined) {
      position += space.length;
      continue;
    }
    const number = matchAt(NUMBER);
    if (number !== undefined) {
      tokens.push({ kind: 'number', text: number, position });
      position += number.length;
      continue;
    }
    const identifier = matchAt(IDENTIFIER);
    if (identifier !== undefined) {
      tokens.push({ kind: 'identifier', text: identifier, position });
      position += identifier.length;
      continue;
    }
    // Code points, not UTF-16 units, so an emoji is reported whole rather than as half a pair.
    const character = String.fromCodePoint(source.codePointAt(position) ?? 0);
    if (!OPERATORS.has(character))
      throw unexpected({ kind: 'operator', text: character, position });
    tokens.push({ kind: 'operator', text: character, position });
    position += character.length;
  }
  tokens.push({ kind: 'end', text: '', position: source.length });
  return tokens;
}

/**
 * Grammar, lowest precedence first:
 *   expression := term (('+' | '-') term)*
 *   term       := unary (('*' | '/') unary)*
 *   unary      := ('+' | '-') unary | primary
 *   primary    := number | 'retried' | name '(' arguments? ')' | '(' expression ')'
 *   arguments  := expression (',' expression)*
 */
class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): Evaluator {
    const evaluator = this.expression();
    const rest = this.peek();
    if (rest.kind !== 'end') throw unexpected(rest);
    return evaluator;
  }

  private peek(): Token {
    // tokenize always ends the list with an `end` token, and nothing consumes past it.
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private isOperator(text: string): boolean {
    const token = this.peek();
    return token.kind === 'operator' && token.text === text;
  }

  private expect(text: string): void {
    const token = this.peek();
    if (!this.isOperator(text)) {
      throw new RetryDelayExpressionError(
        `expected "${text}" at position ${token.position}, found ${describe(token)}`,
        token.position,
      );
    }
    this.next();
  }

  /** Runs `parse` one nesting level deeper, refusing to go past MAX_NESTING_DEPTH. */
  private nested<T>(at: Token, parse: () => T): T {
    if (this.depth >= MAX_NESTING_DEPTH) {
      throw new RetryDelayExpressionError(
        `expression nested too deeply at position ${at.position}; ` +
          `the maximum depth is ${MAX_NESTING_DEPTH}`,
        at.position,
      );
    }
    this.depth += 1;
    const result = parse();
    this.depth -= 1;
    return result;
  }

  private expression(): Evaluator {
    let left = this.term();
    while (this.isOperator('+') || this.isOperator('-')) {
      const operator = this.next().text;
      const l = left;
      const r = this.term();
      left = operator === '+' ? (n) => l(n) + r(n) : (n) => l(n) - r(n);
    }
    return left;
  }

  private term(): Evaluator {
    let left = this.unary();
    while (this.isOperator('*') || this.isOperator('/')) {
      const operator = this.next().text;
      const l = left;
      const r = this.unary();
      left = operator === '*' ? (n) => l(n) * r(n) : (n) => l(n) / r(n);
    }
    return left;
  }

  private unary(): Evaluator {
    if (this.isOperator('+') || this.isOperator('-')) {
      const sign = this.next();
      const operand = this.nested(sign, () => this.unary());
      return sign.text === '-' ? (n) => -operand(n) : operand;
    }
    return this.primary();
  }

  private primary(): Evaluator {
    const token = this.next();
    if (token.kind === 'number') {
      const value = Number(token.text);
      return () => value;
    }
    if (token.kind === 'identifier') {
      if (this.isOperator('(')) return this.call(token);
      if (token.text === RETRIED_VARIABLE) return (n) => n;
      if (FUNCTIONS.has(token.text)) {
        throw new RetryDelayExpressionError(
          `function "${token.text}" at position ${token.position} must be called with ` +
            `parentheses, e.g. ${token.text}(...)`,
          token.position,
        );
      }
      throw new RetryDelayExpressionError(
        `unknown variable "${token.text}" at position ${token.position}; ` +
          `the only variable is "${RETRIED_VARIABLE}"`,
        token.position,
      );
    }
    if (token.kind === 'operator' && token.text === '(') {
      return this.nested(token, () => {
        const inner = this.expression();
        this.expect(')');
        return inner;
      });
    }
    throw unexpected(token);
  }

  private call(name: Token): Evaluator {
    const fn = FUNCTIONS.get(name.text);
    if (fn === undefined) {
      throw new RetryDelayExpressionError(
        `unknown function "${name.text}" at position ${name.position}; ` +
          `allowed: ${ALLOWED_FUNCTIONS}`,
        name.position,
      );
    }
    const args = this.nested(name, () => {
      this.expect('(');
      const parsed: Evaluator[] = [];
      if (!this.isOperator(')')) {
        parsed.push(this.expression());
        while (this.isOperator(',')) {
          this.next();
          parsed.push(this.expression());
        }
      }
      this.expect(')');
      return parsed;
    });
    if (args.length !== fn.arity) {
      throw new RetryDelayExpressionError(
        `${name.text} takes ${fn.arity} argument${fn.arity === 1 ? '' : 's'}, ` +
          `got ${args.length} (at position ${name.position})`,
        name.position,
      );
    }
    return (n) => fn.apply(args.map((arg) => arg(n)));
  }
}

function toDelayMs(value: number): number {
  if (Number.isNaN(value)) return 0;
  // Math.max(0, -0) is +0, so a tiny negative result never comes back as -0.
  return Math.min(MAX_RETRY_DELAY_MS, Math.max(0, Math.round(value)));
}

/**
 * Parses an `Upstash-Retry-Delay` expression once, at publish time, so that a mistake is reported
 * to the publisher rather than discovered at the first retry.
 *
 * @throws RetryDelayExpressionError when the source is empty, longer than MAX_EXPRESSION_LENGTH,
 *   nested deeper than MAX_NESTING_DEPTH, or not a valid expression; the message says what is
 *   wrong and at which zero-based position.
 */
export function parseRetryDelayExpression(source: string): RetryDelayExpression {
  // Checked before tokenizing so that a huge header costs nothing more than reading its length.
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new RetryDelayExpressionError(
      `expression is ${source.length} characters long; the maximum is ${MAX_EXPRESSION_LENGTH}`,
    );
  }
  if (source.trim() === '') throw new RetryDelayExpressionError('expression is empty');
  const evaluator = new Parser(tokenize(source)).parse();
  return { source, evaluate: (retried) => toDelayMs(evaluator(retried)) };
}
