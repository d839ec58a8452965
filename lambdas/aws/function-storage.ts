import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsStorage, AwsStorageOptions } from '../adapters/aws/aws-storage';
import { createAwsStorage } from '../adapters/aws/aws-storage';
import type { EventBridgeSchedulerOptions } from '../adapters/aws/eventbridge-scheduler';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { AwsConfig } from './aws-config';

/** The stack's Scheduler group, and what its schedules target, from the deployed settings. */
export function schedulerOptions(
  config: AwsConfig,
  client: SchedulerClient,
): EventBridgeSchedulerOptions {
  return {
    client,
    groupName: config.scheduleGroupName,
    deliveryQueueArn: config.deliveryQueueArn,
    roleArn: config.schedulerRoleArn,
  };
}

/**
 * The stores on the stack's table and delivery queue, as every function configures them from
 * the deployed settings; `extra` is what differs by function (a Scheduler, inline FIFO pumping).
 */
export function createFunctionStorage(
  config: AwsConfig,
  clients: { readonly dynamo: DynamoDBClient; readonly sqs: SQSClient },
  context: { readonly clock: Clock; readonly logger?: Logger },
  extra: Pick<AwsStorageOptions, 'scheduler' | 'pumpInline'> = {},
): AwsStorage {
  return createAwsStorage({
    dynamo: clients.dynamo,
    tableName: config.tableName,
    sqs: clients.sqs,
    queueUrl: config.deliveryQueueUrl,
    clock: context.clock,
    retentionMs: config.retentionMs,
    visibility: config.visibility,
    claimProvisionalMs: config.claimProvisionalMs,
    ...(config.core.flowControlGlobalParallelism !== undefined && {
      flowControlGlobalParallelism: config.core.flowControlGlobalParallelism,
    }),
    ...(context.logger && { logger: context.logger }),
    ...extra,
  });
}
