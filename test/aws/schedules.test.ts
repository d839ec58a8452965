import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler as apiHandler } from '../../lambdas/aws/handlers/api';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import { apiGatewayEvent, sqsEvent, sqsRecord } from '../helpers/aws-events';
import type { Dynalite } from '../helpers/dynalite';
import { startDynalite } from '../helpers/dynalite';
import { TestReceiver } from '../helpers/receiver';

const TOKEN = 'deploy-time-token-0123456789abcdef';
const KEYS = {
  current: 'sig_DeployCurrent1234567890abcdefg',
  next: 'sig_DeployNext1234567890abcdefghij',
};
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/sqstash-scheduler';
const GROUP = 'sqstash-schedules';
const TOKEN_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-token';
const KEYS_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-keys';
const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

const context = {
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

const sqs = mockClient(SQSClient);
const scheduler = mockClient(SchedulerClient);
const secrets = mockClient(SecretsManagerClient);

async function api(
  method: string,
  rawPath: string,
  options: { body?: string; headers?: Record<string, string> } = {},
) {
  const result = await apiHandler(
    apiGatewayEvent({
      method,
      rawPath,
      headers: { authorization: `Bearer ${TOKEN}`, ...options.headers },
      body: options.body,
    }),
    context,
  );
  return {
    status: result.statusCode,
    json: result.body ? (JSON.parse(result.body) as unknown) : undefined,
  };
}

/** The message ids the functions put on the delivery queue, oldest first. */
function queuedMessageIds(): string[] {
  return sqs
    .commandCalls(SendMessageCommand)
    .map(
      (call) => (JSON.parse(call.args[0].input.MessageBody!) as { messageId: string }).messageId,
    );
}

/** The CreateSchedule calls' inputs, oldest first. */
function created(): CreateScheduleCommandInput[] {
  return scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
}

/** What EventBridge puts on the queue when the schedule fires: its Input, filled in. */
function tickRecord(input: CreateScheduleCommandInput, tick: string, sqsMessageId: string) {
  return sqsRecord({ body: input.Target!.Input!.replace(SCHEDULED_TIME, tick), sqsMessageId });
}

async function deliverMessage(messageId: string): Promise<SQSBatchResponse> {
  return deliveryHandler(
    sqsEvent([
      sqsRecord({ body: JSON.stringify({ messageId }), sqsMessageId: `sqs-${messageId}` }),
    ]),
    context,
  );
}

describe('Cron schedules on AWS, in-process (dynalite, mocked SQS/Scheduler/Secrets, a real receiver)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;

  beforeAll(async () => {
    dynalite = await startDynalite();
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
      SQSTASH_DELIVERY_QUEUE_URL: QUEUE_URL,
      SQSTASH_DELIVERY_QUEUE_ARN: QUEUE_ARN,
      SQSTASH_SCHEDULE_GROUP: GROUP,
      SQSTASH_SCHEDULER_ROLE_ARN: ROLE_ARN,
      SQSTASH_TOKEN_SECRET_ARN: TOKEN_ARN,
      SQSTASH_SIGNING_KEYS_SECRET_ARN: KEYS_ARN,
      SQSTASH_MAX_TIMEOUT: '10s',
      // The receiver listens on 127.0.0.1, which a deployed function refuses by default.
      SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'true',
    });
    secrets
      .on(GetSecretValueCommand, { SecretId: TOKEN_ARN })
      .resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
    secrets
      .on(GetSecretValueCommand, { SecretId: KEYS_ARN })
      .resolves({ SecretString: JSON.stringify(KEYS) });
    secrets.on(DescribeSecretCommand).resolves({});
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-sent' });
    sqs.on(ChangeMessageVisibilityCommand).resolves({});
    scheduler.reset();
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    scheduler.on(DeleteScheduleCommand).resolves({});
    receiver.respondWith(() => ({ status: 200 }));
  });

  /** Creates a schedule through the API and resolves with its id and its CreateSchedule input. */
  async function createSchedule(path: string, cron: string) {
    const response = await api('POST', `/v2/schedules/${receiver.url}${path}`, {
      headers: { 'upstash-cron': cron, 'content-type': 'text/plain' },
      body: `tick of ${path}`,
    });
    expect(response.status).toBe(200);
    const { scheduleId } = response.json as { scheduleId: string };
    const input = created().at(-1)!;
    return { scheduleId, input };
  }

  it('creates one EventBridge schedule, in the zone, whose target puts the tick template on the queue', async () => {
    const { scheduleId } = await createSchedule(
      '/weekdays',
      'CRON_TZ=America/New_York 0 9 * * 1-5',
    );

    expect(created()).toEqual([
      {
        Name: `cron.${scheduleId}`,
        GroupName: GROUP,
        Description: `sqstash schedule ${scheduleId}: CRON_TZ=America/New_York 0 9 * * 1-5`,
        ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
        ScheduleExpressionTimezone: 'America/New_York',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: QUEUE_ARN,
          RoleArn: ROLE_ARN,
          Input: JSON.stringify({ scheduleId, tick: SCHEDULED_TIME }),
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      },
    ]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('publishes one message per tick, however often the tick arrives, and delivers it with Upstash-Schedule-Id', async () => {
    const { scheduleId, input } = await createSchedule('/daily', '30 6 * * *');
    const seen = receiver.requests.length;

    const first = await deliveryHandler(
      sqsEvent([tickRecord(input, '2026-11-24T06:30:00Z', 'sqs-tick-1')]),
      context,
    );
    // Scheduler and SQS deliver at least once: the same tick again, alone and in one batch.
    const again = await deliveryHandler(
      sqsEvent([
        tickRecord(input, '2026-11-24T06:30:00Z', 'sqs-tick-2'),
        tickRecord(input, '2026-11-24T06:30:00Z', 'sqs-tick-3'),
      ]),
      context,
    );
    const [messageId, ...others] = queuedMessageIds();
    const delivered = await deliverMessage(messageId!);
    const [request] = (await receiver.waitForRequests(seen + 1)).slice(seen);

    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(others).toEqual([]);
    expect(delivered).toEqual({ batchItemFailures: [] });
    expect(request!.path).toBe('/daily');
    expect(request!.headers['upstash-schedule-id']).toBe(scheduleId);
    expect(request!.body.toString()).toBe('tick of /daily');
    const schedule = (await api('GET', `/v2/schedules/${scheduleId}`)).json as Record<
      string,
      unknown
    >;
    expect(schedule).toMatchObject({
      scheduleId,
      lastScheduleTime: Date.parse('2026-11-24T06:30:00Z'),
    });
  });

  it('publishes the next tick as a new message', async () => {
    const { input } = await createSchedule('/hourly', '0 * * * *');

    await deliveryHandler(sqsEvent([tickRecord(input, '2026-11-24T10:00:00Z', 'sqs-a')]), context);
    await deliveryHandler(sqsEvent([tickRecord(input, '2026-11-24T11:00:00Z', 'sqs-b')]), context);

    const ids = queuedMessageIds();
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('disables the EventBridge schedule on pause, enables it on resume, and deletes it on delete', async () => {
    const { scheduleId, input } = await createSchedule('/managed', '*/10 * * * *');
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));

    const paused = await api('PATCH', `/v2/schedules/${scheduleId}/pause`);
    const resumed = await api('PATCH', `/v2/schedules/${scheduleId}/resume`);
    const deleted = await api('DELETE', `/v2/schedules/${scheduleId}`);

    expect([paused.status, resumed.status, deleted.status]).toEqual([200, 200, 200]);
    const updates = scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input);
    expect(updates).toEqual([
      { ...input, State: 'DISABLED' },
      { ...input, State: 'ENABLED' },
    ]);
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual(
      [{ Name: `cron.${scheduleId}`, GroupName: GROUP }],
    );
    expect((await api('GET', `/v2/schedules/${scheduleId}`)).status).toBe(404);
  });

  it('skips a tick that arrives after the schedule was paused', async () => {
    const { scheduleId, input } = await createSchedule('/paused', '0 12 * * *');
    await api('PATCH', `/v2/schedules/${scheduleId}/pause`);

    const response = await deliveryHandler(
      sqsEvent([tickRecord(input, '2026-11-24T12:00:00Z', 'sqs-paused')]),
      context,
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(queuedMessageIds()).toEqual([]);
    expect(scheduler.commandCalls(DeleteScheduleCommand)).toHaveLength(0);
  });

  it('refuses with a 400, storing nothing, a cron EventBridge cannot express', async () => {
    const before = (await api('GET', '/v2/schedules')).json as unknown[];

    const response = await api('POST', `/v2/schedules/${receiver.url}/both-days`, {
      headers: { 'upstash-cron': '0 9 1 * 1' },
    });

    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: expect.stringMatching(/both restricted/) });
    expect(scheduler.calls()).toHaveLength(0);
    expect((await api('GET', '/v2/schedules')).json).toHaveLength(before.length);
  });

  it('deletes the EventBridge schedule of a schedule that no longer exists when its tick arrives', async () => {
    const orphan = JSON.stringify({ scheduleId: 'scd_gone', tick: '2026-11-24T12:00:00Z' });

    const response = await deliveryHandler(
      sqsEvent([sqsRecord({ body: orphan, sqsMessageId: 'sqs-orphan' })]),
      context,
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(queuedMessageIds()).toEqual([]);
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual(
      [{ Name: 'cron.scd_gone', GroupName: GROUP }],
    );
  });

  it('leaves a tick that could not fire to SQS, and fires it once when it comes back', async () => {
    const { input } = await createSchedule('/flaky-queue', '15 * * * *');
    sqs.on(SendMessageCommand).rejectsOnce(new Error('SQS is unavailable'));

    const failed = await deliveryHandler(
      sqsEvent([tickRecord(input, '2026-11-24T10:15:00Z', 'sqs-flaky')]),
      context,
    );
    const retried = await deliveryHandler(
      sqsEvent([tickRecord(input, '2026-11-24T10:15:00Z', 'sqs-flaky')]),
      context,
    );

    expect(failed).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-flaky' }] });
    expect(retried).toEqual({ batchItemFailures: [] });
    // The failed publish's SendMessage, then the one that went through.
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(2);
  });
});
