import { CORE_ENV, DESTINATION_POLICY_ENV } from '../config/env-reader';

/**
 * Every environment variable the AWS Lambda functions read, named once. The CDK stack sets
 * them (lib/) and the composition root reads them (lambdas/aws/composition.ts); nothing else
 * touches process.env.
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
  /** How long delivered messages' logs and dead letters are kept (DynamoDB TTL). */
  retention: 'SQSTASH_RETENTION',
  /** Powertools reads these itself. */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;
