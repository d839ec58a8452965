import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger as LoggerPort } from '../ports/logger';
import type { AttemptOutcome, Telemetry } from '../ports/telemetry';

/**
 * Powertools, one instance each per cold start. Service name, log level and metrics namespace
 * come from the POWERTOOLS_* variables the stack sets. The stack has Lambda pass every
 * application log line (JSON format, application level TRACE, lib/constructs/sqstash-
 * function.ts), so that the EMF lines, which carry no level, are never filtered; the level
 * that counts is POWERTOOLS_LOG_LEVEL. Powertools would take Lambda's level over it, which is
 * why Lambda's is forgotten before the Logger reads it.
 */
delete process.env.AWS_LAMBDA_LOG_LEVEL;
export const logger = new Logger();
export const metrics = new Metrics();

/** The core's Logger port over Powertools' Logger: same levels, fields as structured keys. */
export const loggerPort: LoggerPort = {
  debug: (message, fields) => logger.debug(message, { ...fields }),
  info: (message, fields) => logger.info(message, { ...fields }),
  warn: (message, fields) => logger.warn(message, { ...fields }),
  error: (message, fields) => logger.error(message, { ...fields }),
};

/** The dashboard's metrics, in the namespace the stack sets (EMF, no API calls). */
export const METRIC = {
  published: 'Published',
  delivered: 'Delivered',
  retried: 'Retried',
  failed: 'Failed',
  /** Dead-letter-queue entries the dead-letter function could not handle (its alarm watches it). */
  deadLetterFailures: 'DeadLetterFailures',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Counts not flushed yet, summed per metric, and when the first of them was made. */
const counts = new Map<MetricName, number>();
let countedSince: number | undefined;
let flushedAt = 0;
/**
 * An instance writes at most one EMF line a second: at a few invocations a second an EMF line
 * each would cost more than everything else the API function logs (README, "What it costs").
 */
export const METRICS_FLUSH_MS = 1_000;

/**
 * At the end of an invocation: writes the counts as one EMF line, one sum per metric
 * (Powertools would write every value added, `"Delivered":[1,1,1,...]`), unless this instance
 * wrote one less than METRICS_FLUSH_MS ago; then they wait for a later invocation, and are
 * written with the time of the first of them, so they land in the minute they were counted. An
 * instance Lambda ends with counts waiting loses them: at most a second's worth. An invocation
 * that counted nothing prints nothing.
 */
export function publishMetrics(): void {
  const now = Date.now();
  if (counts.size === 0 || now - flushedAt < METRICS_FLUSH_MS) return;
  for (const [name, count] of counts) metrics.addMetric(name, MetricUnit.Count, count);
  metrics.setTimestamp(countedSince ?? now);
  counts.clear();
  countedSince = undefined;
  flushedAt = now;
  metrics.publishStoredMetrics();
}

export function countMetric(name: MetricName, count = 1): void {
  countedSince ??= Date.now();
  counts.set(name, (counts.get(name) ?? 0) + count);
}

const OUTCOME_METRICS = {
  delivered: METRIC.delivered,
  retry: METRIC.retried,
  failed: METRIC.failed,
  canceled: undefined,
} as const satisfies Record<AttemptOutcome, MetricName | undefined>;

/**
 * The core's Telemetry port as the dashboard's counters: what the core counts as a publish, a
 * delivery, a retry or a failure (the embedded server's /metrics counts the same events).
 */
export function metricsTelemetry(count: (metric: MetricName, count?: number) => void): Telemetry {
  return {
    published: (stored) => {
      if (stored > 0) count(METRIC.published, stored);
    },
    attemptSettled: ({ outcome }) => {
      const metric = OUTCOME_METRICS[outcome];
      if (metric) count(metric);
    },
  };
}

/**
 * With X-Ray tracing on, the SDK clients are wrapped by Powertools' Tracer. The stack bundles
 * each function with `process.env.SQSTASH_TRACING` defined as a constant, so with tracing off
 * (the default) esbuild drops this import and the Tracer, with the X-Ray SDK it brings, is not
 * even in the bundle; in-process (tests) the variable decides at run time.
 */
export async function traceClients<T extends Record<string, object>>(clients: T): Promise<T> {
  // An `if` on the constant itself: esbuild leaves the import in a dead branch out entirely.
  if (process.env.SQSTASH_TRACING === 'true') {
    const { Tracer } = await import('@aws-lambda-powertools/tracer');
    const tracer = new Tracer();
    return Object.fromEntries(
      Object.entries(clients).map(([name, client]) => [name, tracer.captureAWSv3Client(client)]),
    ) as T;
  }
  return clients;
}
