import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
  ThrottlingException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import {
  atExpression,
  deliveryFireTime,
  deliveryScheduleName,
  EventBridgeScheduler,
  SchedulerError,
} from '../../../lambdas/adapters/aws/eventbridge-scheduler';

const GROUP = 'sqstash-test';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/sqstash-scheduler';
const SCHEDULE_NAME = /^[0-9a-zA-Z_.-]{1,64}$/;

describe('Class: EventBridgeScheduler', () => {
  const client = new SchedulerClient({ region: 'us-east-1' });
  const scheduler = mockClient(client);
  const subject = new EventBridgeScheduler({
    client,
    groupName: GROUP,
    deliveryQueueArn: QUEUE_ARN,
    roleArn: ROLE_ARN,
  });

  beforeEach(() => {
    scheduler.reset();
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
  });

  afterAll(() => {
    scheduler.restore();
  });

  describe('Method: scheduleFlowTimer', () => {
    it('sends {"flow": key} shortly before the time, named after a hash of the key and the minute', async () => {
      const dueAt = Date.parse('2025-03-04T05:06:07.890Z');

      await subject.scheduleFlowTimer('tenant/42 llm', dueAt);
      await subject.scheduleFlowTimer('another', dueAt);

      const inputs = scheduler
        .commandCalls(CreateScheduleCommand)
        .map((call) => call.args[0].input);
      expect(inputs[0]).toMatchObject({
        Name: expect.stringMatching(/^flow-[0-9a-f]+-20250304T0505$/),
        ScheduleExpression: 'at(2025-03-04T05:05:00)',
        ActionAfterCompletion: 'DELETE',
        Target: { Arn: QUEUE_ARN, Input: '{"flow":"tenant/42 llm"}' },
      });
      expect(inputs[0]!.Name).toMatch(SCHEDULE_NAME);
      expect(inputs[1]!.Name).not.toBe(inputs[0]!.Name);
    });
  });

  describe('Method: scheduleWake', () => {
    it('creates a self-deleting one-time schedule that sends {"messageId"} to the queue', async () => {
      // Prepare
      const dueAt = Date.parse('2025-03-04T05:06:07.890Z');

      // Act
      await subject.scheduleWake('msg_abc', dueAt);

      // Assess
      const calls = scheduler.commandCalls(CreateScheduleCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({
        Name: 'msg_abc-20250304T0505',
        GroupName: GROUP,
        ScheduleExpression: 'at(2025-03-04T05:05:00)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        Target: {
          Arn: QUEUE_ARN,
          RoleArn: ROLE_ARN,
          Input: '{"messageId":"msg_abc"}',
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      });
    });

    it("names the retry's settlement in the wake when it wakes a retry", async () => {
      await subject.scheduleWake('msg_abc', Date.parse('2025-03-04T05:06:07Z'), 'token-1');

      const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
      expect(input.Target?.Input).toBe('{"messageId":"msg_abc","sentBy":"token-1"}');
    });

    it('resolves when a schedule of that name exists: the message is already scheduled', async () => {
      // Prepare
      scheduler.on(CreateScheduleCommand).rejects(
        new ConflictException({
          message: 'Schedule already exists.',
          Message: 'Schedule already exists.',
          $metadata: {},
        }),
      );

      // Act
      const scheduled = subject.scheduleWake('msg_abc', Date.parse('2025-03-04T05:06:07Z'));

      // Assess
      await expect(scheduled).resolves.toBeUndefined();
    });

    it('rejects with a SchedulerError naming the message and schedule on other failures', async () => {
      // Prepare
      const throttled = new ThrottlingException({
        message: 'Rate exceeded',
        Message: 'Rate exceeded',
        $metadata: {},
      });
      scheduler.on(CreateScheduleCommand).rejects(throttled);

      // Act
      const error = await subject
        .scheduleWake('msg_abc', Date.parse('2025-03-04T05:06:07Z'))
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(SchedulerError);
      expect((error as SchedulerError).message).toBe(
        'could not schedule the delivery of msg_abc (due 2025-03-04T05:06:07.000Z) as ' +
          `msg_abc-20250304T0505 in schedule group ${GROUP}: ThrottlingException: Rate exceeded`,
      );
      expect((error as SchedulerError).cause).toBe(throttled);
    });
  });
});

describe('Function: deliveryFireTime', () => {
  // Scheduler fires anywhere in the minute it is set for, so that whole minute must end by the
  // due time: the message is then never late, and the delivery function waits out the rest.
  it.each([
    ['2025-01-01T12:00:00.000Z', '2025-01-01T11:59:00.000Z'],
    ['2025-01-01T12:00:00.001Z', '2025-01-01T11:59:00.000Z'],
    ['2025-01-01T12:00:59.999Z', '2025-01-01T11:59:00.000Z'],
    ['2025-01-01T12:01:00.000Z', '2025-01-01T12:00:00.000Z'],
    ['2025-01-01T00:00:30.000Z', '2024-12-31T23:59:00.000Z'],
  ])('fires a schedule for %s in the minute starting %s', (due, fire) => {
    const fireAt = deliveryFireTime(Date.parse(due));

    expect(new Date(fireAt).toISOString()).toBe(fire);
    expect(fireAt + 60_000).toBeLessThanOrEqual(Date.parse(due));
    expect(Date.parse(due) - fireAt).toBeLessThan(120_000);
  });
});

describe('Function: atExpression', () => {
  it('writes a UTC time without milliseconds or zone designator', () => {
    expect(atExpression(Date.parse('2026-12-31T23:59:00.000Z'))).toBe('at(2026-12-31T23:59:00)');
  });
});

describe('Function: deliveryScheduleName', () => {
  const fireAt = Date.parse('2025-01-02T03:04:00Z');

  it('is the message id and the fire minute', () => {
    const name = deliveryScheduleName('msg_7YQd2kV1xFq9sLmN3pR8tW', fireAt);

    expect(name).toBe('msg_7YQd2kV1xFq9sLmN3pR8tW-20250102T0304');
    expect(name).toMatch(SCHEDULE_NAME);
  });

  it('differs for another fire minute of the same message', () => {
    expect(deliveryScheduleName('msg_1', fireAt)).not.toBe(
      deliveryScheduleName('msg_1', fireAt + 60_000),
    );
  });

  it.each([
    ['characters outside [0-9a-zA-Z-_.]', 'msg/with spaces:and#more'],
    ['more than fits in 64 characters', `msg_${'x'.repeat(60)}`],
  ])('hashes an id with %s into a valid, stable name', (_, messageId) => {
    const name = deliveryScheduleName(messageId, fireAt);

    expect(name).toMatch(SCHEDULE_NAME);
    expect(name).toBe(deliveryScheduleName(messageId, fireAt));
    expect(name).not.toBe(deliveryScheduleName(`${messageId}2`, fireAt));
  });
});
