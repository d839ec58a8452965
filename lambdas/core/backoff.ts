import type { CoreConfig } from './config';
import type { Message } from './message';
import type { RetryDelayExpression } from './retry-delay-expression';
import { parseRetryDelayExpression } from './retry-delay-expression';
import { serverDirectedRetryDelayMs } from './server-retry-after';

const SECOND_MS = 1000;
const EXPRESSION_CACHE_LIMIT = 1000;
const parsedExpressions = new Map<string, RetryDelayExpression>();

/**
 * How long to wait after the failed attempt number `retried` (0 for the first attempt):
 * the destination's own `Retry-After` / `X-RateLimit-Reset*` if it gave one, else the
 * message's `Upstash-Retry-Delay` expression (ms, with `retried` bound), else the default
 * backoff `min(86400, e^(k*n))` seconds where n = retried + 1 is the retry about to happen.
 */
export function retryDelayMs(
  message: Message,
  retried: number,
  responseHeaders: Readonly<Record<string, string[]>> | undefined,
  config: CoreConfig,
  nowMs: number,
): number {
  if (responseHeaders) {
    const first: Record<string, string | undefined> = {};
    for (const [name, values] of Object.entries(responseHeaders)) first[name] = values[0];
    const serverDelay = serverDirectedRetryDelayMs(first, nowMs);
    if (serverDelay !== undefined) return Math.min(serverDelay, config.maxRetryDelayMs);
  }
  if (message.retryDelayExpression !== undefined) {
    return Math.min(
      expression(message.retryDelayExpression).evaluate(retried),
      config.maxRetryDelayMs,
    );
  }
  const backoffMs = Math.exp(config.backoffCoefficient * (retried + 1)) * SECOND_MS;
  return Math.round(Math.min(backoffMs, config.maxRetryDelayMs));
}

/** Expressions were validated at publish; each distinct one is parsed once per process. */
function expression(source: string): RetryDelayExpression {
  let parsed = parsedExpressions.get(source);
  if (!parsed) {
    if (parsedExpressions.size >= EXPRESSION_CACHE_LIMIT) parsedExpressions.clear();
    parsed = parseRetryDelayExpression(source);
    parsedExpressions.set(source, parsed);
  }
  return parsed;
}
