import type { Duration } from 'aws-cdk-lib';
import { AWS_ENV } from '../lambdas/aws/env-vars';
import type { SqstashConfig } from './config';

/** What the functions are told about the resources they use. */
export type LambdaResources = {
  readonly tableName: string;
  readonly deliveryQueueUrl: string;
  readonly deliveryQueueArn: string;
  readonly scheduleGroupName: string;
  readonly schedulerRoleArn: string;
  readonly tokenSecretArn: string;
  readonly signingKeysSecretArn: string;
};

/** CloudWatch namespace of the custom metrics, and the `service` dimension and Logger key. */
export const METRICS_NAMESPACE = 'sqstash';
export const SERVICE_NAME = 'sqstash';

/** The variables each function sets for itself (SqstashFunction), from its own settings. */
type PerFunction = typeof AWS_ENV.functionTimeout | typeof AWS_ENV.tracing;

/**
 * The environment every sqstash function gets: every name in `AWS_ENV` but those each function
 * sets for itself (its timeout, tracing), read by each function's composition
 * (`lambdas/aws/*-runtime.ts`). Durations are written as whole seconds with a unit (`300s`),
 * which the core's duration grammar reads. One service name for all functions, so the dashboard
 * finds each metric under one `service` dimension whichever function emits it (the function
 * name is in every log line anyway).
 */
export function lambdaEnvironment(
  resources: LambdaResources,
  config: SqstashConfig,
): Record<string, string> {
  const seconds = (duration: Duration) => `${duration.toSeconds()}s`;
  const environment: Record<
    Exclude<(typeof AWS_ENV)[keyof typeof AWS_ENV], PerFunction>,
    string | undefined
  > = {
    [AWS_ENV.tableName]: resources.tableName,
    [AWS_ENV.deliveryQueueUrl]: resources.deliveryQueueUrl,
    [AWS_ENV.deliveryQueueArn]: resources.deliveryQueueArn,
    [AWS_ENV.scheduleGroupName]: resources.scheduleGroupName,
    [AWS_ENV.schedulerRoleArn]: resources.schedulerRoleArn,
    [AWS_ENV.tokenSecretArn]: resources.tokenSecretArn,
    [AWS_ENV.signingKeysSecretArn]: resources.signingKeysSecretArn,
    [AWS_ENV.defaultRetries]: String(config.defaultRetries),
    [AWS_ENV.maxRetries]: String(config.maxRetries),
    // Unset: the core's default backoff, min(86400, e^(2n)) seconds.
    [AWS_ENV.backoffCoefficient]: undefined,
    [AWS_ENV.maxTimeout]: seconds(config.maxAttemptTimeout),
    [AWS_ENV.dedupWindow]: seconds(config.dedupWindow),
    // Unset: the core's default (1 MiB).
    [AWS_ENV.maxBodyBytes]: undefined,
    // Unset: the core's default (1 MiB); a longer step history is fetched by the SDK.
    [AWS_ENV.workflowInlineStepsBytes]: undefined,
    // Unset: no global flow-control cap.
    [AWS_ENV.flowControlGlobalParallelism]:
      config.flowControlGlobalParallelism === undefined
        ? undefined
        : String(config.flowControlGlobalParallelism),
    // Deliveries never reach loopback (the Lambda runtime API), private or link-local (the
    // metadata endpoint) addresses: a VPC-less function has no private network to reach.
    [AWS_ENV.allowLoopbackDestinations]: 'false',
    [AWS_ENV.allowPrivateDestinations]: 'false',
    [AWS_ENV.retention]: seconds(config.retention),
    [AWS_ENV.visibility]: config.visibility,
    [AWS_ENV.logLevel]: config.logLevel,
    [AWS_ENV.serviceName]: SERVICE_NAME,
    [AWS_ENV.metricsNamespace]: METRICS_NAMESPACE,
  };
  return Object.fromEntries(
    Object.entries(environment).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
}

/** What a function tells its composition about itself. */
export function functionEnvironment(timeout: Duration, tracing: boolean): Record<string, string> {
  return {
    [AWS_ENV.functionTimeout]: `${timeout.toSeconds()}s`,
    [AWS_ENV.tracing]: String(tracing),
  };
}
