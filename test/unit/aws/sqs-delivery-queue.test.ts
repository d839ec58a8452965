import { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeScheduler } from '../../../lambdas/adapters/aws/eventbridge-scheduler';
import {
  DeliveryQueueError,
  SqsDeliveryQueue,
} from '../../../lambdas/adapters/aws/sqs-delivery-queue';
import { fixedClock, T0 } from '../../helpers/messages';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:sqstash-delivery';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/sqstash-scheduler';
const GROUP = 'sqstash-test';
const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe('Class: SqsDeliveryQueue', () => {
  const sqsClient = new SQSClient({ region: 'us-east-1' });
  const schedulerClient = new SchedulerClient({ region: 'us-east-1' });
  const sqs = mockClient(sqsClient);
  const scheduler = mockClient(schedulerClient);
  let clock: ReturnType<typeof fixedClock>;
  let queue: SqsDeliveryQueue;

  beforeEach(() => {
    sqs.reset();
    scheduler.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-1' });
    sqs
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: input.Entries.map((entry) => ({
          Id: entry.Id,
          MessageId: `sqs-${entry.Id}`,
          MD5OfMessageBody: 'md5',
        })),
      }));
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });
    clock = fixedClock(T0);
    queue = new SqsDeliveryQueue({
      sqs: sqsClient,
      queueUrl: QUEUE_URL,
      clock,
      scheduler: new EventBridgeScheduler({
        client: schedulerClient,
        groupName: GROUP,
        deliveryQueueArn: QUEUE_ARN,
        roleArn: ROLE_ARN,
      }),
      retryBaseDelayMs: 0,
    });
  });

  afterAll(() => {
    sqs.restore();
    scheduler.restore();
  });

  function sentMessages() {
    return sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
  }

  function sentBatches() {
    return sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
  }

  function createdSchedules() {
    return scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
  }

  describe('Method: enqueue', () => {
    it('sends {"messageId"} with the seconds until it is due as DelaySeconds', async () => {
      // Act
      await queue.enqueue('msg_1', T0 + 30 * SECOND);

      // Assess
      expect(sentMessages()).toEqual([
        { QueueUrl: QUEUE_URL, MessageBody: '{"messageId":"msg_1"}', DelaySeconds: 30 },
      ]);
      expect(createdSchedules()).toEqual([]);
    });

    it('rounds a fraction of a second up, so the message never arrives early', async () => {
      await queue.enqueue('msg_1', T0 + 1_001);

      expect(sentMessages()[0]?.DelaySeconds).toBe(2);
    });

    it('sends a message due now or in the past with DelaySeconds 0', async () => {
      await queue.enqueue('msg_now', T0);
      await queue.enqueue('msg_past', T0 - 5 * MINUTE);

      expect(sentMessages()).toEqual([
        { QueueUrl: QUEUE_URL, MessageBody: '{"messageId":"msg_now"}', DelaySeconds: 0 },
        { QueueUrl: QUEUE_URL, MessageBody: '{"messageId":"msg_past"}', DelaySeconds: 0 },
      ]);
    });

    it('sends a message due in exactly 900 s, the SQS maximum, through SQS', async () => {
      await queue.enqueue('msg_1', T0 + 900 * SECOND);

      expect(sentMessages()).toEqual([
        { QueueUrl: QUEUE_URL, MessageBody: '{"messageId":"msg_1"}', DelaySeconds: 900 },
      ]);
      expect(createdSchedules()).toEqual([]);
    });

    it('hands a message due even 1 ms past 900 s to EventBridge Scheduler', async () => {
      await queue.enqueue('msg_1', T0 + 900 * SECOND + 1);

      expect(sentMessages()).toEqual([]);
      expect(createdSchedules()).toHaveLength(1);
    });

    it('schedules a message due in 20.5 minutes for the minute that ends by its due time', async () => {
      // Prepare: T0 is 2025-01-01T00:00:00Z, so it is due at 00:20:30.
      const dueAt = T0 + 20 * MINUTE + 30 * SECOND;

      // Act
      await queue.enqueue('msg_1', dueAt);

      // Assess: the 00:19 minute fires by 00:19:59.999; the delivery function waits out the rest.
      expect(sentMessages()).toEqual([]);
      expect(createdSchedules()).toEqual([
        {
          Name: 'msg_1-20250101T0019',
          GroupName: GROUP,
          ScheduleExpression: 'at(2025-01-01T00:19:00)',
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: {
            Arn: QUEUE_ARN,
            RoleArn: ROLE_ARN,
            Input: '{"messageId":"msg_1"}',
            RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
          },
        },
      ]);
    });

    it('sends the rest with DelaySeconds when the early schedule wakes the message', async () => {
      // Prepare: the schedule for 00:19 fired at 00:19:40; the message is due at 00:20:30.
      const dueAt = T0 + 20 * MINUTE + 30 * SECOND;
      clock.set(T0 + 19 * MINUTE + 40 * SECOND);

      // Act
      await queue.enqueue('msg_1', dueAt);

      // Assess
      expect(sentMessages()).toEqual([
        { QueueUrl: QUEUE_URL, MessageBody: '{"messageId":"msg_1"}', DelaySeconds: 50 },
      ]);
    });

    it('rejects with a DeliveryQueueError naming the message when SQS fails', async () => {
      // Prepare
      const failure = new Error('connect ETIMEDOUT');
      sqs.on(SendMessageCommand).rejects(failure);

      // Act
      const error = await queue.enqueue('msg_1', T0).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(DeliveryQueueError);
      expect((error as DeliveryQueueError).message).toBe(
        'could not enqueue msg_1 for delivery: SQS SendMessage failed: Error: connect ETIMEDOUT',
      );
      expect((error as DeliveryQueueError).failures).toEqual([
        { messageId: 'msg_1', reason: 'SQS SendMessage failed: Error: connect ETIMEDOUT' },
      ]);
      expect((error as DeliveryQueueError).cause).toBe(failure);
    });
  });

  describe('Method: enqueueMany', () => {
    const entries = (count: number, dueAt: number) =>
      Array.from({ length: count }, (_, index) => ({ messageId: `msg_${index}`, dueAt }));

    it('sends SendMessageBatch calls of at most 10 entries', async () => {
      // Act
      await queue.enqueueMany(entries(23, T0 + 10 * SECOND));

      // Assess
      const batches = sentBatches();
      expect(batches.map((batch) => batch.Entries?.length)).toEqual([10, 10, 3]);
      expect(batches[2]).toEqual({
        QueueUrl: QUEUE_URL,
        Entries: [
          { Id: '0', MessageBody: '{"messageId":"msg_20"}', DelaySeconds: 10 },
          { Id: '1', MessageBody: '{"messageId":"msg_21"}', DelaySeconds: 10 },
          { Id: '2', MessageBody: '{"messageId":"msg_22"}', DelaySeconds: 10 },
        ],
      });
      expect(sentMessages()).toEqual([]);
    });

    it('schedules the entries due after 15 minutes and batches the rest', async () => {
      await queue.enqueueMany([
        { messageId: 'msg_soon', dueAt: T0 - SECOND },
        { messageId: 'msg_later', dueAt: T0 + 60 * MINUTE },
      ]);

      expect(sentBatches()).toEqual([
        {
          QueueUrl: QUEUE_URL,
          Entries: [{ Id: '0', MessageBody: '{"messageId":"msg_soon"}', DelaySeconds: 0 }],
        },
      ]);
      expect(createdSchedules().map((input) => input.Name)).toEqual(['msg_later-20250101T0059']);
    });

    it('sends nothing for no entries', async () => {
      await queue.enqueueMany([]);

      expect(sqs.calls()).toHaveLength(0);
    });

    it('re-sends only the entries that failed through no fault of the sender', async () => {
      // Prepare
      sqs
        .on(SendMessageBatchCommand)
        .resolvesOnce({
          Successful: [
            { Id: '0', MessageId: 'a', MD5OfMessageBody: 'md5' },
            { Id: '2', MessageId: 'c', MD5OfMessageBody: 'md5' },
          ],
          Failed: [{ Id: '1', SenderFault: false, Code: 'InternalError' }],
        })
        .resolvesOnce({ Successful: [{ Id: '1', MessageId: 'b', MD5OfMessageBody: 'md5' }] });

      // Act
      await queue.enqueueMany(entries(3, T0));

      // Assess
      expect(sentBatches()).toEqual([
        {
          QueueUrl: QUEUE_URL,
          Entries: [
            { Id: '0', MessageBody: '{"messageId":"msg_0"}', DelaySeconds: 0 },
            { Id: '1', MessageBody: '{"messageId":"msg_1"}', DelaySeconds: 0 },
            { Id: '2', MessageBody: '{"messageId":"msg_2"}', DelaySeconds: 0 },
          ],
        },
        {
          QueueUrl: QUEUE_URL,
          Entries: [{ Id: '1', MessageBody: '{"messageId":"msg_1"}', DelaySeconds: 0 }],
        },
      ]);
    });

    it('rejects naming the entries that kept failing, after 3 attempts', async () => {
      // Prepare
      sqs
        .on(SendMessageBatchCommand)
        .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
          Successful: input.Entries.filter((entry) => entry.Id !== '1').map((entry) => ({
            Id: entry.Id,
            MessageId: 'ok',
            MD5OfMessageBody: 'md5',
          })),
          Failed: input.Entries.filter((entry) => entry.Id === '1').map((entry) => ({
            Id: entry.Id,
            SenderFault: false,
            Code: 'ServiceUnavailable',
            Message: 'try later',
          })),
        }));

      // Act
      const error = await queue.enqueueMany(entries(3, T0)).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(DeliveryQueueError);
      expect((error as DeliveryQueueError).message).toBe(
        'could not enqueue 1 of 3 messages for delivery (the others were enqueued): ' +
          'msg_1 (SQS ServiceUnavailable: try later)',
      );
      expect((error as DeliveryQueueError).failures).toEqual([
        { messageId: 'msg_1', reason: 'SQS ServiceUnavailable: try later' },
      ]);
      expect(sentBatches().map((batch) => batch.Entries?.length)).toEqual([3, 1, 1]);
    });

    it('does not re-send an entry SQS refused as the sender fault', async () => {
      // Prepare
      sqs.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'md5' }],
        Failed: [{ Id: '1', SenderFault: true, Code: 'InvalidParameterValue' }],
      });

      // Act
      const error = await queue.enqueueMany(entries(2, T0)).catch((caught: unknown) => caught);

      // Assess
      expect((error as DeliveryQueueError).failures).toEqual([
        { messageId: 'msg_1', reason: 'SQS InvalidParameterValue' },
      ]);
      expect(sentBatches()).toHaveLength(1);
    });

    it('treats an entry missing from both Successful and Failed as failed', async () => {
      // Prepare
      sqs.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'md5' }],
      });

      // Act
      const error = await queue.enqueueMany(entries(2, T0)).catch((caught: unknown) => caught);

      // Assess
      expect((error as DeliveryQueueError).failures).toEqual([
        { messageId: 'msg_1', reason: 'SQS reported neither success nor failure for it' },
      ]);
    });

    it('rejects naming every entry of a batch whose call failed, after sending the others', async () => {
      // Prepare: the call carrying the first ten entries fails as a whole.
      sqs
        .on(SendMessageBatchCommand)
        .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
          if (input.Entries.length === 10) throw new Error('AccessDenied');
          return {
            Successful: input.Entries.map((entry) => ({
              Id: entry.Id,
              MessageId: 'ok',
              MD5OfMessageBody: 'md5',
            })),
          };
        });

      // Act
      const error = await queue.enqueueMany(entries(12, T0)).catch((caught: unknown) => caught);

      // Assess
      expect(sentBatches()).toHaveLength(2);
      expect((error as DeliveryQueueError).failures.map((failure) => failure.messageId)).toEqual(
        entries(10, T0).map((entry) => entry.messageId),
      );
      expect((error as DeliveryQueueError).failures[0]?.reason).toBe(
        'SQS SendMessageBatch failed: Error: AccessDenied',
      );
    });

    it('rejects naming a long-delay entry Scheduler refused', async () => {
      // Prepare
      scheduler.on(CreateScheduleCommand).rejects(new Error('AccessDenied'));

      // Act
      const error = await queue
        .enqueueMany([{ messageId: 'msg_later', dueAt: T0 + 60 * MINUTE }])
        .catch((caught: unknown) => caught);

      // Assess
      expect((error as DeliveryQueueError).failures).toEqual([
        {
          messageId: 'msg_later',
          reason: expect.stringMatching(/^SchedulerError: could not schedule .*AccessDenied$/),
        },
      ]);
    });
  });
});
