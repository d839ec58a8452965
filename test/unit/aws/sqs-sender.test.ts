import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { OutgoingEntry } from '../../../lambdas/adapters/aws/sqs-sender';
import { SqsSendError, SqsSender } from '../../../lambdas/adapters/aws/sqs-sender';
import { fixedClock, T0 } from '../../helpers/messages';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const KIB = 1024;

describe('Class: SqsSender', () => {
  const sqsClient = new SQSClient({ region: 'us-east-1' });
  const sqs = mockClient(sqsClient);
  let clock: ReturnType<typeof fixedClock>;
  let sender: SqsSender;

  const acceptAll = (input: { Entries: SendMessageBatchRequestEntry[] }) => ({
    Successful: input.Entries.map((entry) => ({
      Id: entry.Id,
      MessageId: `sqs-${entry.Id}`,
      MD5OfMessageBody: 'md5',
    })),
  });

  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageBatchCommand).callsFake(acceptAll);
    clock = fixedClock(T0);
    sender = new SqsSender({ sqs: sqsClient, queueUrl: QUEUE_URL, clock, retryBaseDelayMs: 0 });
  });

  afterAll(() => {
    sqs.restore();
  });

  function sentBatches() {
    return sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
  }

  const entries = (count: number, dueAt: number, body = (i: number) => `{"n":${i}}`) =>
    Array.from(
      { length: count },
      (_, i): OutgoingEntry => ({ body: body(i), dueAt, about: `message msg_${i}` }),
    );

  describe('Method: send', () => {
    it('sends each entry with the seconds until it is due as DelaySeconds, rounded up', async () => {
      await sender.send([
        { body: 'a', dueAt: T0 + 30 * SECOND, about: 'a' },
        { body: 'b', dueAt: T0 + 1_001, about: 'b' },
        { body: 'c', dueAt: T0 - 5 * MINUTE, about: 'c' },
        { body: 'd', dueAt: T0 + 900 * SECOND, about: 'd' },
      ]);

      expect(sentBatches()).toEqual([
        {
          QueueUrl: QUEUE_URL,
          Entries: [
            { Id: '0', MessageBody: 'a', DelaySeconds: 30 },
            { Id: '1', MessageBody: 'b', DelaySeconds: 2 },
            { Id: '2', MessageBody: 'c', DelaySeconds: 0 },
            { Id: '3', MessageBody: 'd', DelaySeconds: 900 },
          ],
        },
      ]);
    });

    it('sends batches of at most 10 entries', async () => {
      await sender.send(entries(23, T0));

      expect(sentBatches().map((batch) => batch.Entries?.length)).toEqual([10, 10, 3]);
    });

    it('starts a new batch before the bodies of one would pass 1 MiB together', async () => {
      await sender.send(entries(5, T0, () => 'x'.repeat(300 * KIB)));

      expect(sentBatches().map((batch) => batch.Entries?.length)).toEqual([3, 2]);
    });

    it('sends nothing for no entries', async () => {
      await sender.send([]);

      expect(sqs.calls()).toHaveLength(0);
    });

    it('re-sends only the entries that failed through no fault of the sender', async () => {
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

      await sender.send(entries(3, T0));

      expect(
        sentBatches().map((batch) => batch.Entries?.map((entry) => entry.MessageBody)),
      ).toEqual([['{"n":0}', '{"n":1}', '{"n":2}'], ['{"n":1}']]);
    });

    it('rejects naming the entries that kept failing, after 3 attempts', async () => {
      sqs
        .on(SendMessageBatchCommand)
        .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
          Successful: acceptAll({
            Entries: input.Entries.filter((e) => e.MessageBody !== '{"n":1}'),
          }).Successful,
          Failed: input.Entries.filter((e) => e.MessageBody === '{"n":1}').map((e) => ({
            Id: e.Id,
            SenderFault: false,
            Code: 'ServiceUnavailable',
            Message: 'try later',
          })),
        }));

      const error = await sender.send(entries(3, T0)).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(SqsSendError);
      expect((error as SqsSendError).message).toBe(
        'could not send 1 of 3 entries to the delivery queue (the others were sent): ' +
          'message msg_1 (SQS ServiceUnavailable: try later)',
      );
      expect(sentBatches().map((batch) => batch.Entries?.length)).toEqual([3, 1, 1]);
    });

    it('does not re-send an entry SQS refused as the sender fault', async () => {
      sqs.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'md5' }],
        Failed: [{ Id: '1', SenderFault: true, Code: 'InvalidParameterValue' }],
      });

      const error = await sender.send(entries(2, T0)).catch((caught: unknown) => caught);

      expect((error as SqsSendError).failures).toEqual([
        { about: 'message msg_1', reason: 'SQS InvalidParameterValue' },
      ]);
      expect(sentBatches()).toHaveLength(1);
    });

    it('treats an entry missing from both Successful and Failed as failed', async () => {
      sqs.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'md5' }],
      });

      const error = await sender.send(entries(2, T0)).catch((caught: unknown) => caught);

      expect((error as SqsSendError).failures).toEqual([
        { about: 'message msg_1', reason: 'SQS reported neither success nor failure for it' },
      ]);
    });

    it('rejects naming every entry of a batch whose call failed, after sending the others', async () => {
      sqs
        .on(SendMessageBatchCommand)
        .callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => {
          if (input.Entries.length === 10) throw new Error('AccessDenied');
          return acceptAll(input);
        });

      const error = await sender.send(entries(12, T0)).catch((caught: unknown) => caught);

      expect(sentBatches()).toHaveLength(2);
      expect((error as SqsSendError).failures).toHaveLength(10);
      expect((error as SqsSendError).failures[0]?.reason).toBe(
        'SQS SendMessageBatch failed: Error: AccessDenied',
      );
    });
  });

  describe('Method: fitsDelay', () => {
    it('takes due times up to 15 minutes ahead, SQS largest DelaySeconds', () => {
      expect(sender.fitsDelay(T0 + 900 * SECOND)).toBe(true);
      expect(sender.fitsDelay(T0 + 900 * SECOND + 1)).toBe(false);
      expect(sender.fitsDelay(T0 - MINUTE)).toBe(true);
    });
  });

  describe('Method: postpone', () => {
    it('makes a received entry visible again after the seconds given', async () => {
      sqs.on(ChangeMessageVisibilityCommand).resolves({});

      await sender.postpone('receipt-1', 4);

      expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]!.args[0].input).toEqual({
        QueueUrl: QUEUE_URL,
        ReceiptHandle: 'receipt-1',
        VisibilityTimeout: 4,
      });
    });
  });
});
