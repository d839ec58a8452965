import { CORE_ENV, DESTINATION_POLICY_ENV } from '../config/env-reader';

/**
 * Every environment variable the AWS Lambda functions read, named once. The CDK stack sets
 * them (lib/) and the compositions read them (lambdas/aws/*-runtime.ts); nothing else touches
 * process.env.
 */
export const AWS_ENV = {
  /** The single DynamoDB table (lambdas/adapters/aws/table.ts). */
  tableName: 'SQSTASH_TABLE_NAME',
  /** The SQS standard queue deliveries run from. */
  deliveryQueueUrl: 'SQSTASH_DELIVERY_QUEUE_URL',
  deliveryQueueArn: 'SQSTASH_DELIVERY_QUEUE_ARN',
  /** EventBridge Scheduler: the group one-time and cron schedules live in, and the role they assume. */
  scheduleGroupName: 'SQSTASH_SCHEDULE_GROUP',
  schedulerRoleArn: 'SQSTASH_SCHEDULER_ROLE_ARN',
  /** Secrets Manager secrets generated at deploy time. */
  tokenSecretArn: 'SQSTASH_TOKEN_SECRET_ARN',
  signingKeysSecretArn: 'SQSTASH_SIGNING_KEYS_SECRET_ARN',
  /** QStash semantics (CoreConfig; unset means the core's default), shared with the embedded runtime. */
  ...CORE_ENV,
  /** Whether deliveries may reach loopback, private or link-local addresses; unset means no. */
  ...DESTINATION_POLICY_ENV,
  /** How long records, logs and dead letters are kept after they stop mattering (DynamoDB TTL). */
  retention: 'SQSTASH_RETENTION',
  /** `eventual` (default) or `immediate`: whether every message is recorded at publish. */
  visibility: 'SQSTASH_VISIBILITY',
  /** The function's own timeout: how long a dedup claim it takes may stay provisional. */
  functionTimeout: 'SQSTASH_FUNCTION_TIMEOUT',
  /** `true` when X-Ray tracing is on; also an esbuild define, so the Tracer is bundled only then. */
  tracing: 'SQSTASH_TRACING',
  /** Powertools reads these itself. */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;
