import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import {
  cronScheduleName,
  EventBridgeScheduleTrigger,
} from '../../../lambdas/adapters/aws/eventbridge-schedule-trigger';
import { SchedulerError } from '../../../lambdas/adapters/aws/eventbridge-scheduler';
import { decodeEntry } from '../../../lambdas/adapters/aws/sqs-entries';
import { BadRequestError } from '../../../lambdas/core/errors';
import type { Schedule } from '../../../lambdas/ports/schedule-store';

const GROUP = 'sqstash-test';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/sqstash-scheduler';
const SCHEDULE_NAME = /^[0-9a-zA-Z_.-]{1,64}$/;
const TICK_INPUT = '{"scheduleId":"scd_abc","tick":"<aws.scheduler.scheduled-time>"}';

function schedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    scheduleId: 'scd_abc',
    cron: 'CRON_TZ=America/New_York 0 9 * * 1-5',
    destination: 'https://example.com/hook',
    headers: {},
    body: new Uint8Array(),
    createdAt: Date.parse('2026-11-23T08:00:00Z'),
    isPaused: false,
    ...overrides,
  };
}

function awsError<T>(
  Type: new (options: { message: string; Message: string; $metadata: object }) => T,
  message: string,
): T {
  return new Type({ message, Message: message, $metadata: {} });
}

describe('Class: EventBridgeScheduleTrigger', () => {
  const client = new SchedulerClient({ region: 'us-east-1' });
  const scheduler = mockClient(client);
  const subject = new EventBridgeScheduleTrigger({
    client,
    groupName: GROUP,
    deliveryQueueArn: QUEUE_ARN,
    roleArn: ROLE_ARN,
  });

  beforeEach(() => {
    scheduler.reset();
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    scheduler.on(DeleteScheduleCommand).resolves({});
  });

  afterAll(() => {
    scheduler.restore();
  });

  describe('Method: scheduleChanged', () => {
    it('creates an enabled cron schedule in the zone, whose target puts the tick template on the queue', async () => {
      // Act
      await subject.scheduleChanged(schedule());

      // Assess
      const calls = scheduler.commandCalls(CreateScheduleCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.args[0].input).toEqual({
        Name: 'cron.scd_abc',
        GroupName: GROUP,
        Description: 'sqstash schedule scd_abc: CRON_TZ=America/New_York 0 9 * * 1-5',
        ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
        ScheduleExpressionTimezone: 'America/New_York',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: QUEUE_ARN,
          RoleArn: ROLE_ARN,
          Input: TICK_INPUT,
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      });
      expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
    });

    it('writes an Input that, once Scheduler fills in the scheduled time, the delivery function reads as a tick', async () => {
      // Act
      await subject.scheduleChanged(schedule());

      // Assess
      const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input.Target!.Input!;
      const delivered = input.replace('<aws.scheduler.scheduled-time>', '2026-11-23T14:00:00Z');
      expect(decodeEntry(delivered)).toEqual({
        kind: 'tick',
        scheduleId: 'scd_abc',
        tickTime: Date.parse('2026-11-23T14:00:00Z'),
      });
    });

    it('evaluates a schedule without CRON_TZ in UTC', async () => {
      // Act
      await subject.scheduleChanged(schedule({ cron: '*/15 * * * *' }));

      // Assess
      expect(scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input).toMatchObject({
        ScheduleExpression: 'cron(0/15 * * * ? *)',
        ScheduleExpressionTimezone: 'UTC',
      });
    });

    it('updates the whole definition when the schedule exists, DISABLED while paused', async () => {
      // Prepare
      scheduler
        .on(CreateScheduleCommand)
        .rejects(awsError(ConflictException, 'Schedule cron.scd_abc already exists.'));

      // Act
      await subject.scheduleChanged(schedule({ isPaused: true }));

      // Assess
      const [create] = scheduler.commandCalls(CreateScheduleCommand);
      const updates = scheduler.commandCalls(UpdateScheduleCommand);
      expect(updates).toHaveLength(1);
      expect(updates[0]!.args[0].input).toEqual({ ...create!.args[0].input, State: 'DISABLED' });
      expect(create!.args[0].input.State).toBe('DISABLED');
    });

    it('creates it again when it was deleted between the create and the update', async () => {
      // Prepare
      scheduler
        .on(CreateScheduleCommand)
        .rejectsOnce(awsError(ConflictException, 'exists'))
        .resolves({ ScheduleArn: 'arn:schedule' });
      scheduler.on(UpdateScheduleCommand).rejectsOnce(awsError(ResourceNotFoundException, 'gone'));

      // Act
      await subject.scheduleChanged(schedule());

      // Assess
      expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(2);
      expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(1);
    });

    it('refuses, without calling Scheduler, a schedule with both day fields restricted', async () => {
      // Act
      const changed = subject.scheduleChanged(schedule({ cron: '0 9 1 * 1' }));

      // Assess
      await expect(changed).rejects.toThrow(BadRequestError);
      await expect(changed).rejects.toThrow(/both restricted/);
      expect(scheduler.calls()).toHaveLength(0);
    });

    it('wraps any other Scheduler failure in a SchedulerError naming the schedule', async () => {
      // Prepare
      scheduler.on(CreateScheduleCommand).rejects(awsError(ThrottlingException, 'slow down'));

      // Act
      const changed = subject.scheduleChanged(schedule());

      // Assess
      await expect(changed).rejects.toThrow(SchedulerError);
      await expect(changed).rejects.toThrow(
        /could not create schedule cron\.scd_abc in schedule group sqstash-test: ThrottlingException: slow down/,
      );
    });
  });

  describe('Method: validate', () => {
    it('accepts what EventBridge can express and refuses the rest with a 400', () => {
      expect(() => subject.validate(schedule())).not.toThrow();
      expect(() => subject.validate(schedule({ cron: '0 9 1-7 * MON' }))).toThrow(BadRequestError);
      expect(scheduler.calls()).toHaveLength(0);
    });
  });

  describe('Method: scheduleDeleted', () => {
    it('deletes the schedule by name from the group', async () => {
      // Act
      await subject.scheduleDeleted('scd_abc');

      // Assess
      expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
        Name: 'cron.scd_abc',
        GroupName: GROUP,
      });
    });

    it('resolves when the schedule is already gone', async () => {
      // Prepare
      scheduler.on(DeleteScheduleCommand).rejects(awsError(ResourceNotFoundException, 'gone'));

      // Act & Assess
      await expect(subject.scheduleDeleted('scd_abc')).resolves.toBeUndefined();
    });

    it('rejects with a SchedulerError on any other failure', async () => {
      // Prepare
      scheduler.on(DeleteScheduleCommand).rejects(awsError(ThrottlingException, 'slow down'));

      // Act & Assess
      await expect(subject.scheduleDeleted('scd_abc')).rejects.toThrow(SchedulerError);
    });
  });
});

describe('Function: cronScheduleName', () => {
  it('keeps an id that fits, behind a prefix no delivery schedule uses', () => {
    expect(cronScheduleName('scd_4Tz9kq')).toBe('cron.scd_4Tz9kq');
    expect(cronScheduleName('nightly.report-v2')).toBe('cron.nightly.report-v2');
  });

  it('hashes ids with other characters, or too long, into exactly 64 characters', () => {
    const names = ['my schedule', 'täglich', 'a/b', 'x'.repeat(59), 'x'.repeat(500)].map(
      cronScheduleName,
    );

    for (const name of names) {
      expect(name).toMatch(SCHEDULE_NAME);
      expect(name).toHaveLength(64);
      expect(name.startsWith('cron.')).toBe(true);
    }
    expect(new Set(names).size).toBe(names.length);
    expect(cronScheduleName('x'.repeat(58))).toHaveLength(63);
  });

  it('is stable, so the schedule is found again to update or delete', () => {
    expect(cronScheduleName('my schedule')).toBe(cronScheduleName('my schedule'));
  });
});
