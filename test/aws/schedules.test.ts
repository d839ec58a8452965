import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import { sqsEvent, sqsRecord } from '../helpers/aws-events';
import type { Dynalite } from '../helpers/dynalite';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

const { queueArn: QUEUE_ARN, schedulerRoleArn: ROLE_ARN } = DEPLOYED;
const { sqs, scheduler } = awsMocks;
const GROUP = 'sqstash-schedules';

const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

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
    dynalite = await startLambdaEnvironment(GROUP);
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
    const before = (await api<unknown[]>('GET', '/v2/schedules')).json!;

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
