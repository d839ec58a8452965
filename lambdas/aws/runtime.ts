import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsRuntime } from './composition';
import { createAwsRuntime, loadAwsConfig } from './composition';
import { countMetric, loggerPort, tracer } from './powertools';

let runtime: Promise<AwsRuntime> | undefined;

/**
 * The runtime of this Lambda instance: configuration read from the environment and SDK
 * clients created once per cold start, then reused by every invocation. A failed start is
 * not cached, so the next invocation tries again.
 */
export function awsRuntime(): Promise<AwsRuntime> {
  runtime ??= start().catch((error: unknown) => {
    runtime = undefined;
    throw error;
  });
  return runtime;
}

function start(): Promise<AwsRuntime> {
  const config = loadAwsConfig(process.env);
  return createAwsRuntime(
    config,
    {
      dynamo: tracer.captureAWSv3Client(new DynamoDBClient({})),
      sqs: tracer.captureAWSv3Client(new SQSClient({})),
      scheduler: tracer.captureAWSv3Client(new SchedulerClient({})),
      secrets: tracer.captureAWSv3Client(new SecretsManagerClient({})),
    },
    { logger: loggerPort, onMetric: countMetric },
  );
}
