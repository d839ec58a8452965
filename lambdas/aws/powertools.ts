import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Logger as LoggerPort } from '../ports/logger';

/**
 * Powertools, one instance each per cold start. Service name, log level and metrics namespace
 * come from the POWERTOOLS_* variables the stack sets.
 */
export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer();

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
} as const;

/**
 * Flushes the invocation's metrics as one EMF line. An invocation that counted nothing (a GET,
 * an empty batch) prints nothing: Powertools would otherwise log a warning on every such call.
 */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

export function countMetric(name: (typeof METRIC)[keyof typeof METRIC]): void {
  metrics.addMetric(name, MetricUnit.Count, 1);
}
