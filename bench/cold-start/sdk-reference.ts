/**
 * The cold-start reference: a Lambda handler holding only the AWS SDK clients the sqstash
 * functions create (DynamoDB with the document client, SQS, EventBridge Scheduler, Secrets
 * Manager), bundled with the same settings. What a function costs to load beyond this is ours.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export const handler = async (): Promise<number> => {
  const clients = [
    DynamoDBDocumentClient.from(new DynamoDBClient({})),
    new SQSClient({}),
    new SchedulerClient({}),
    new SecretsManagerClient({}),
  ];
  return clients.length;
};
