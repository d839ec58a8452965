import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { sqsRecord } from './aws-events';

/** One message in a fake queue. */
export type FakeEntry = {
  readonly id: string;
  readonly body: string;
  readonly sentAt: number;
  visibleAt: number;
  receives: number;
  receipt?: string;
};

type Queue = 'delivery' | 'dead-letter';
type DrainOptions = {
  readonly delivery: Handler;
  readonly deadLetter?: Handler;
  readonly context: Context;
  readonly until?: () => boolean;
  readonly idleMs?: number;
  readonly timeoutMs?: number;
  /** Invocations at once. @default 1 */
  readonly concurrency?: number;
};
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export type FakeSqsOptions = {
  /** Receives after which an entry moves to the dead-letter queue. @default 10 */
  readonly maxReceiveCount?: number;
  /** How long a received entry stays invisible unless its visibility is changed. @default 60 s */
  readonly visibilityTimeoutMs?: number;
  /** Called for every entry sent, before it is queued (a test may act on it at once). */
  readonly onSend?: (body: string, delaySeconds: number) => Promise<void> | void;
  /** Called at the start of every call the functions make (the cost bench adds latency). */
  readonly onCall?: (command: string) => Promise<void>;
};

/**
 * SQS, as far as the functions and Lambda's event source use it, over an aws-sdk-client-mock
 * stub: SendMessage(Batch) queue entries with their DelaySeconds, ChangeMessageVisibility moves
 * a received entry's visibility, and `drain` plays the event source: it receives visible
 * entries in batches of 10, hands them to a handler, deletes what the handler did not report
 * as failed, and moves an entry received `maxReceiveCount` times to the dead-letter queue. No
 * SQS emulator runs here; this keeps only the behaviour the functions rely on.
 */
export class FakeSqs {
  readonly #stub: AwsClientStub<SQSClient>;
  readonly #options: FakeSqsOptions;
  readonly queues: Record<Queue, FakeEntry[]> = { delivery: [], 'dead-letter': [] };
  /** Every body ever sent, in order. */
  readonly sent: { body: string; delaySeconds: number }[] = [];
  /** The most receives any entry had, by entry id. */
  readonly receives = new Map<string, number>();
  #ids = 0;
  #failingSends = 0;
  #sendsBeforeFailing = 0;

  constructor(stub: AwsClientStub<SQSClient>, options: FakeSqsOptions = {}) {
    this.#stub = stub;
    this.#options = options;
  }

  /** Answers the stub's commands with this queue; call after every `stub.reset()`. */
  install(): this {
    this.#stub
      .on(SendMessageBatchCommand)
      .callsFake(async (input: { Entries: SendMessageBatchRequestEntry[] }) => {
        await this.#options.onCall?.('SendMessageBatch');
        this.#failIfAsked();
        const successful = [];
        for (const entry of input.Entries) {
          await this.#send(entry.MessageBody!, entry.DelaySeconds ?? 0);
          successful.push({ Id: entry.Id, MessageId: `sqs-${this.#ids}`, MD5OfMessageBody: '' });
        }
        return { Successful: successful, Failed: [], $metadata: {} };
      });
    this.#stub
      .on(SendMessageCommand)
      .callsFake(async (input: { MessageBody: string; DelaySeconds?: number }) => {
        await this.#options.onCall?.('SendMessage');
        this.#failIfAsked();
        await this.#send(input.MessageBody, input.DelaySeconds ?? 0);
        return { MessageId: `sqs-${this.#ids}`, $metadata: {} };
      });
    this.#stub
      .on(ChangeMessageVisibilityCommand)
      .callsFake(async (input: { ReceiptHandle: string; VisibilityTimeout: number }) => {
        await this.#options.onCall?.('ChangeMessageVisibility');
        const entry = this.#byReceipt(input.ReceiptHandle);
        if (entry) entry.visibleAt = Date.now() + input.VisibilityTimeout * 1000;
        return { $metadata: {} };
      });
    return this;
  }

  /** `count` send calls, after the next `after`, fail as an unavailable SQS would. */
  failNextSends(count = 1, after = 0): void {
    this.#failingSends = count;
    this.#sendsBeforeFailing = after;
  }

  #failIfAsked(): void {
    if (this.#failingSends === 0) return;
    if (this.#sendsBeforeFailing > 0) {
      this.#sendsBeforeFailing -= 1;
      return;
    }
    this.#failingSends -= 1;
    throw new Error('SQS is unavailable');
  }

  /** Puts a body on a queue as EventBridge Scheduler or a test would. */
  put(body: string, queue: Queue = 'delivery'): FakeEntry {
    this.#ids += 1;
    const now = Date.now();
    const entry: FakeEntry = {
      id: `sqs-${this.#ids}`,
      body,
      sentAt: now,
      visibleAt: now,
      receives: 0,
    };
    this.queues[queue].push(entry);
    return entry;
  }

  /** The parsed bodies of the entries waiting in `queue`. */
  bodies(queue: Queue = 'delivery'): unknown[] {
    return this.queues[queue].map((entry) => JSON.parse(entry.body));
  }

  /** Takes up to 10 visible entries of `queue` as the event source would. */
  receive(queue: Queue = 'delivery', max = 10): SQSRecord[] {
    const now = Date.now();
    const maxReceives = this.#options.maxReceiveCount ?? 10;
    const records: SQSRecord[] = [];
    for (const entry of [...this.queues[queue]]) {
      if (records.length === max) break;
      if (entry.visibleAt > now) continue;
      if (queue === 'delivery' && entry.receives >= maxReceives) {
        this.queues.delivery.splice(this.queues.delivery.indexOf(entry), 1);
        this.queues['dead-letter'].push({ ...entry, receives: 0, visibleAt: now });
        continue;
      }
      entry.receives += 1;
      entry.receipt = `receipt-${entry.id}-${entry.receives}`;
      entry.visibleAt = now + (this.#options.visibilityTimeoutMs ?? 60_000);
      this.receives.set(entry.id, Math.max(this.receives.get(entry.id) ?? 0, entry.receives));
      records.push({
        ...sqsRecord({
          body: entry.body,
          sqsMessageId: entry.id,
          receiveCount: entry.receives,
          sentAt: entry.sentAt,
          queueArn: `arn:aws:sqs:us-east-1:123456789012:sqstash-${queue}`,
        }),
        receiptHandle: entry.receipt,
      });
    }
    return records;
  }

  /** What the event source does with a batch's answer: delete every entry not reported failed. */
  complete(queue: Queue, records: readonly SQSRecord[], response: SQSBatchResponse): void {
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    for (const record of records) {
      if (failed.has(record.messageId)) continue;
      const index = this.queues[queue].findIndex((entry) => entry.id === record.messageId);
      if (index >= 0) this.queues[queue].splice(index, 1);
    }
  }

  /**
   * Runs the handlers over the queues until nothing is visible and nothing becomes visible
   * within `idleMs`, or `until` holds; rejects after `timeoutMs`. `concurrency` invocations
   * run at once, as Lambda's pollers run several.
   */
  async drain(options: DrainOptions): Promise<void> {
    const pollers = Array.from({ length: options.concurrency ?? 1 }, () => this.#poll(options));
    await Promise.all(pollers);
  }

  async #poll(options: DrainOptions): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    const idleMs = options.idleMs ?? 0;
    for (;;) {
      if (options.until?.()) return;
      if (Date.now() > deadline) throw new Error('the fake queues did not drain in time');
      let worked = false;
      for (const [queue, handler] of [
        ['delivery', options.delivery],
        ['dead-letter', options.deadLetter],
      ] as const) {
        if (!handler) continue;
        const records = this.receive(queue);
        if (records.length === 0) continue;
        worked = true;
        this.complete(queue, records, await handler({ Records: records }, options.context));
      }
      if (worked) continue;
      const waiting = [
        ...this.queues.delivery,
        ...(options.deadLetter ? this.queues['dead-letter'] : []),
      ];
      const next = Math.min(...waiting.map((entry) => entry.visibleAt));
      const wait = next - Date.now();
      // Without a condition to wait for, done once nothing becomes visible within idleMs.
      if (options.until === undefined && (!Number.isFinite(next) || wait > idleMs)) return;
      await new Promise((resolve) =>
        setTimeout(resolve, Number.isFinite(wait) ? Math.max(1, Math.min(50, wait)) : 10),
      );
    }
  }

  async #send(body: string, delaySeconds: number): Promise<void> {
    await this.#options.onSend?.(body, delaySeconds);
    this.sent.push({ body, delaySeconds });
    this.#ids += 1;
    const now = Date.now();
    this.queues.delivery.push({
      id: `sqs-${this.#ids}`,
      body,
      sentAt: now,
      visibleAt: now + delaySeconds * 1000,
      receives: 0,
    });
  }

  #byReceipt(receipt: string): FakeEntry | undefined {
    return [...this.queues.delivery, ...this.queues['dead-letter']].find(
      (entry) => entry.receipt === receipt,
    );
  }
}
