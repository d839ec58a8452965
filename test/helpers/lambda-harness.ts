import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as apiHandler } from '../../lambdas/aws/handlers/api';
import { apiGatewayEvent } from './aws-events';
import type { Dynalite } from './dynalite';
import { startDynalite } from './dynalite';
import { FakeSqs } from './fake-sqs';

/** What a deployed stack would hold in its secrets and environment, for in-process handler tests. */
export const DEPLOYED = {
  token: 'deploy-time-token-0123456789abcdef',
  keys: {
    current: 'sig_DeployCurrent1234567890abcdefg',
    next: 'sig_DeployNext1234567890abcdefghij',
  },
  queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery',
  queueArn: 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery',
  schedulerRoleArn: 'arn:aws:iam::123456789012:role/sqstash-scheduler',
  tokenSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-token',
  keysSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-keys',
} as const;

/** The Lambda context the handlers receive. */
export const lambdaContext = {
  functionName: 'sqstash-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:sqstash-test',
  memoryLimitInMB: '512',
  awsRequestId: 'request-1',
  logGroupName: '/aws/lambda/sqstash-test',
  logStreamName: 'stream',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

/** The services that cannot run here, mocked for every client the handlers create. */
export const awsMocks = {
  sqs: mockClient(SQSClient),
  scheduler: mockClient(SchedulerClient),
  secrets: mockClient(SecretsManagerClient),
};

/**
 * A fresh fake delivery queue and Scheduler for the next case: SQS played by FakeSqs, and
 * Scheduler answering every create, update and delete (a case that needs a failure stubs it
 * after this). Call in beforeEach.
 */
export function resetAwsMocks(): FakeSqs {
  awsMocks.sqs.reset();
  const queue = new FakeSqs(awsMocks.sqs).install();
  awsMocks.scheduler.reset();
  awsMocks.scheduler
    .on(CreateScheduleCommand)
    .resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/sqstash/x' });
  awsMocks.scheduler
    .on(UpdateScheduleCommand)
    .resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/sqstash/x' });
  awsMocks.scheduler.on(DeleteScheduleCommand).resolves({});
  return queue;
}

/**
 * Sets up what the real handlers need, as a deployed stack would: dynalite with a fresh table
 * (DynamoDB runs for real), the environment the stack sets, and the two secrets. Call in
 * beforeAll, before the first handler call reads the environment; close in afterAll.
 */
export async function startLambdaEnvironment(scheduleGroup: string): Promise<Dynalite> {
  const dynalite = await startDynalite();
  const tableName = await dynalite.createTable();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_NAMESPACE: 'sqstash',
    POWERTOOLS_SERVICE_NAME: 'sqstash',
    POWERTOOLS_METRICS_DISABLED: 'true',
    SQSTASH_TABLE_NAME: tableName,
    SQSTASH_DELIVERY_QUEUE_URL: DEPLOYED.queueUrl,
    SQSTASH_DELIVERY_QUEUE_ARN: DEPLOYED.queueArn,
    SQSTASH_SCHEDULE_GROUP: scheduleGroup,
    SQSTASH_SCHEDULER_ROLE_ARN: DEPLOYED.schedulerRoleArn,
    SQSTASH_TOKEN_SECRET_ARN: DEPLOYED.tokenSecretArn,
    SQSTASH_SIGNING_KEYS_SECRET_ARN: DEPLOYED.keysSecretArn,
    SQSTASH_MAX_TIMEOUT: '10s',
    SQSTASH_RETENTION: '14d',
    SQSTASH_FUNCTION_TIMEOUT: '70s',
    // The receivers run on 127.0.0.1, which the AWS runtime refuses by default.
    SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'true',
  });
  const { secrets } = awsMocks;
  secrets
    .on(GetSecretValueCommand, { SecretId: DEPLOYED.tokenSecretArn })
    .resolves({ SecretString: JSON.stringify({ token: DEPLOYED.token }) });
  secrets
    .on(GetSecretValueCommand, { SecretId: DEPLOYED.keysSecretArn })
    .resolves({ SecretString: JSON.stringify(DEPLOYED.keys) });
  secrets.on(DescribeSecretCommand).resolves({});
  return dynalite;
}

/** Calls the real API handler with an API Gateway event carrying the deployed token. */
export async function callApi<Json = Record<string, unknown>>(
  method: string,
  rawPath: string,
  options: { body?: string; headers?: Record<string, string>; rawQueryString?: string } = {},
) {
  const result = await apiHandler(
    apiGatewayEvent({
      method,
      rawPath,
      headers: { authorization: `Bearer ${DEPLOYED.token}`, ...options.headers },
      body: options.body,
      rawQueryString: options.rawQueryString,
    }),
    lambdaContext,
  );
  return {
    status: result.statusCode,
    json: result.body ? (JSON.parse(result.body) as Json) : undefined,
  };
}

/**
 * An HTTP server on 127.0.0.1 that hands each request to the API function as API Gateway
 * would (payload format 2.0, bodies that are not text base64-encoded), so the official SDK
 * talks to the AWS runtime as deployed.
 */
export async function startFrontDoor(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const [rawPath, rawQueryString = ''] = (req.url ?? '/').split('?') as [string, string?];
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      const body = Buffer.concat(chunks);
      const textual = /^(text\/|application\/json)/.test(headers['content-type'] ?? '');
      const result = await apiHandler(
        apiGatewayEvent({
          method: req.method ?? 'GET',
          rawPath,
          rawQueryString,
          headers,
          ...(body.byteLength > 0 && { body, base64: !textual }),
        }),
        lambdaContext,
      );
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
      res.end(
        result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Every item of the handlers' table (startLambdaEnvironment's). */
export async function scanTable(dynalite: Dynalite): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynalite.client.send(
      new ScanCommand({ TableName: process.env.SQSTASH_TABLE_NAME, ExclusiveStartKey }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/**
 * Fakes the clock only (`jest.setSystemTime` moves it), not the timers, so the handlers, the
 * fake queue and the HTTP servers keep running. Undo with `jest.useRealTimers()`.
 */
export function fakeTheDate(): void {
  jest.useFakeTimers({
    doNotFake: [
      'nextTick',
      'setImmediate',
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'queueMicrotask',
    ],
  });
}
