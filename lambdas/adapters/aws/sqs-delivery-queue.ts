/**
 * The AWS DeliveryQueue: a message id goes on the SQS delivery queue, as
 * `{"messageId": "..."}` (delivery-message-body.ts), to be received at its due time.
 *
 * - Due within 15 minutes (SQS's `DelaySeconds` maximum, 900 s, aws-facts.md §1): one
 *   `SendMessage` with `DelaySeconds` = the time left, rounded UP to the second so the message
 *   never arrives early; a due time already past is sent with 0.
 * - Due later: an EventBridge Scheduler one-time schedule (eventbridge-scheduler.ts) puts the
 *   same body on the queue up to two minutes early; the delivery function then finds it not yet
 *   due and holds it back for the last seconds (a visibility timeout, or `enqueue` again).
 *
 * The queue only wakes the delivery function: the message, its due time and its state stay in
 * DynamoDB, and the delivery function re-checks them, so an early, late or duplicate queue
 * message is harmless (SQS standard queues deliver at least once anyway).
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Clock } from '../../ports/clock';
import type { DeliveryQueue } from '../../ports/message-store';
import { encodeDeliveryMessageBody } from './delivery-message-body';
import type { EventBridgeScheduler } from './eventbridge-scheduler';

/** SQS's largest per-message `DelaySeconds` (15 minutes). */
export const MAX_SQS_DELAY_SEC = 900;
/** SQS's largest `SendMessageBatch`. */
const MAX_BATCH_ENTRIES = 10;
const MS_PER_SEC = 1000;
const DEFAULT_BATCH_ATTEMPTS = 3;
const DEFAULT_RETRY_BASE_DELAY_MS = 100;

/** A message id and the time it is due, for `enqueueMany`. */
export type DeliveryQueueEntry = { readonly messageId: string; readonly dueAt: number };

export type SqsDeliveryQueueOptions = {
  readonly sqs: SQSClient;
  /** The delivery queue (`SQSTASH_DELIVERY_QUEUE_URL`). */
  readonly queueUrl: string;
  readonly clock: Clock;
  /** Takes the messages due more than 15 minutes ahead. */
  readonly scheduler: Pick<EventBridgeScheduler, 'scheduleDelivery'>;
  /**
   * How many times `enqueueMany` sends a batch entry that SQS reports as failed through no
   * fault of the sender (throttling, an internal error). The SDK already retries whole calls.
   * @default 3
   */
  readonly batchAttempts?: number;
  /**
   * The pause before the first re-send of failed batch entries; it doubles each time.
   * @default 100
   */
  readonly retryBaseDelayMs?: number;
};

/** One message that could not be enqueued, and why. */
export type EnqueueFailure = { readonly messageId: string; readonly reason: string };

/**
 * Messages could not be handed to the delivery queue. `failures` names each one; the other
 * messages of the same call were enqueued.
 */
export class DeliveryQueueError extends Error {
  readonly failures: readonly EnqueueFailure[];

  constructor(message: string, failures: readonly EnqueueFailure[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeliveryQueueError';
    this.failures = failures;
  }
}

/** The SQS delivery queue, with EventBridge Scheduler for due times past SQS's 15 minutes. */
export class SqsDeliveryQueue implements DeliveryQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #clock: Clock;
  readonly #scheduler: Pick<EventBridgeScheduler, 'scheduleDelivery'>;
  readonly #batchAttempts: number;
  readonly #retryBaseDelayMs: number;

  constructor(options: SqsDeliveryQueueOptions) {
    this.#sqs = options.sqs;
    this.#queueUrl = options.queueUrl;
    this.#clock = options.clock;
    this.#scheduler = options.scheduler;
    this.#batchAttempts = options.batchAttempts ?? DEFAULT_BATCH_ATTEMPTS;
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
  }

  async enqueue(messageId: string, dueAt: number): Promise<void> {
    const delaySec = this.#delaySec(dueAt);
    if (delaySec > MAX_SQS_DELAY_SEC) {
      await this.#scheduler.scheduleDelivery(messageId, dueAt);
      return;
    }
    try {
      await this.#sqs.send(
        new SendMessageCommand({
          QueueUrl: this.#queueUrl,
          MessageBody: encodeDeliveryMessageBody(messageId),
          DelaySeconds: delaySec,
        }),
      );
    } catch (error) {
      const reason = `SQS SendMessage failed: ${describe(error)}`;
      throw new DeliveryQueueError(
        `could not enqueue ${messageId} for delivery: ${reason}`,
        [{ messageId, reason }],
        { cause: error },
      );
    }
  }

  /**
   * Enqueues every entry, as `enqueue` would, in `SendMessageBatch` calls of up to 10. Entries
   * SQS reports as failed are sent again when the failure was not the sender's; resolves only
   * when every entry was accepted, and otherwise rejects with a DeliveryQueueError naming each
   * message that was not.
   */
  async enqueueMany(entries: readonly DeliveryQueueEntry[]): Promise<void> {
    const viaSqs: DeliveryQueueEntry[] = [];
    const viaScheduler: DeliveryQueueEntry[] = [];
    for (const entry of entries) {
      (this.#delaySec(entry.dueAt) > MAX_SQS_DELAY_SEC ? viaScheduler : viaSqs).push(entry);
    }
    const tasks: Promise<EnqueueFailure[]>[] = [];
    for (let start = 0; start < viaSqs.length; start += MAX_BATCH_ENTRIES) {
      tasks.push(this.#sendBatch(viaSqs.slice(start, start + MAX_BATCH_ENTRIES)));
    }
    for (const entry of viaScheduler) {
      tasks.push(
        this.#scheduler.scheduleDelivery(entry.messageId, entry.dueAt).then(
          () => [],
          (error: unknown) => [{ messageId: entry.messageId, reason: describe(error) }],
        ),
      );
    }
    const failures = (await Promise.all(tasks)).flat();
    if (failures.length > 0) {
      throw new DeliveryQueueError(
        `could not enqueue ${failures.length} of ${entries.length} messages for delivery ` +
          `(the others were enqueued): ${failures.map((f) => `${f.messageId} (${f.reason})`).join('; ')}`,
        failures,
      );
    }
  }

  /** Sends one batch, re-sending the entries that failed retryably; resolves with the rest. */
  async #sendBatch(batch: readonly DeliveryQueueEntry[]): Promise<EnqueueFailure[]> {
    // Ids only need to be unique within one call: the position in this batch is.
    let pending = new Map(batch.map((entry, index) => [String(index), entry]));
    const failures: EnqueueFailure[] = [];
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > 1) await sleep(this.#retryBaseDelayMs * 2 ** (attempt - 2));
      const entries: SendMessageBatchRequestEntry[] = [...pending].map(([id, entry]) => ({
        Id: id,
        MessageBody: encodeDeliveryMessageBody(entry.messageId),
        DelaySeconds: this.#delaySec(entry.dueAt),
      }));
      let result: SendMessageBatchCommandOutput;
      try {
        result = await this.#sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
        );
      } catch (error) {
        const reason = `SQS SendMessageBatch failed: ${describe(error)}`;
        for (const entry of pending.values()) failures.push({ messageId: entry.messageId, reason });
        return failures;
      }
      const succeeded = new Set((result.Successful ?? []).map((entry) => entry.Id));
      const failedById = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
      const retry = new Map<string, DeliveryQueueEntry>();
      for (const [id, entry] of pending) {
        if (succeeded.has(id)) continue;
        const failed = failedById.get(id);
        const reason = failed
          ? `SQS ${failed.Code ?? 'error'}${failed.Message ? `: ${failed.Message}` : ''}`
          : 'SQS reported neither success nor failure for it';
        // A sender fault (a malformed entry) fails the same way every time.
        if (failed?.SenderFault !== true && attempt < this.#batchAttempts) retry.set(id, entry);
        else failures.push({ messageId: entry.messageId, reason });
      }
      pending = retry;
    }
    return failures;
  }

  /** Whole seconds until `dueAt`, rounded up so the message is never early; 0 when past. */
  #delaySec(dueAt: number): number {
    return Math.max(0, Math.ceil((dueAt - this.#clock.now()) / MS_PER_SEC));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
