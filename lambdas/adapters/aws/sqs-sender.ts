/**
 * Puts entries (sqs-entries.ts) on the SQS delivery queue, due at a time at most 15 minutes
 * ahead (SQS's largest `DelaySeconds`, 900 s, aws-facts.md §1): `DelaySeconds` is the time left,
 * rounded UP to the second, so an entry never arrives early. Entries go in `SendMessageBatch`
 * calls of up to 10 entries and 1 MiB together; entries SQS reports as failed through no fault
 * of the sender (throttling, an internal error) are sent again. Later due times are
 * EventBridge Scheduler's (eventbridge-scheduler.ts): the stores decide which.
 */
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Clock } from '../../ports/clock';
import { MAX_ENTRY_BYTES } from './sqs-entries';

/** SQS's largest per-message `DelaySeconds` (15 minutes). */
export const MAX_SQS_DELAY_SEC = 900;
export const MAX_SQS_DELAY_MS = MAX_SQS_DELAY_SEC * 1_000;
/** SQS's largest `SendMessageBatch`: 10 entries, 1 MiB of bodies together. */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = MAX_ENTRY_BYTES;
const MS_PER_SEC = 1000;
const DEFAULT_BATCH_ATTEMPTS = 3;
const DEFAULT_RETRY_BASE_DELAY_MS = 100;

/** One entry to send: its encoded body, when it is due, and what it is about (for errors). */
export type OutgoingEntry = {
  readonly body: string;
  readonly dueAt: number;
  readonly about: string;
};

export type SqsSenderOptions = {
  readonly sqs: SQSClient;
  /** The delivery queue (`SQSTASH_DELIVERY_QUEUE_URL`). */
  readonly queueUrl: string;
  readonly clock: Clock;
  /**
   * How many times an entry SQS reports as failed through no fault of the sender is sent. The
   * SDK already retries whole calls.
   * @default 3
   */
  readonly batchAttempts?: number;
  /** The pause before the first re-send of failed entries; it doubles each time. @default 100 */
  readonly retryBaseDelayMs?: number;
};

/** One entry that could not be sent, and why. */
export type SendFailure = { readonly about: string; readonly reason: string };

/** Entries could not be handed to SQS; `failures` names each one, the others were sent. */
export class SqsSendError extends Error {
  readonly failures: readonly SendFailure[];

  constructor(message: string, failures: readonly SendFailure[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'SqsSendError';
    this.failures = failures;
  }
}

/** The SQS delivery queue, for the entries that go on it. */
export class SqsSender {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #clock: Clock;
  readonly #batchAttempts: number;
  readonly #retryBaseDelayMs: number;

  constructor(options: SqsSenderOptions) {
    this.#sqs = options.sqs;
    this.#queueUrl = options.queueUrl;
    this.#clock = options.clock;
    this.#batchAttempts = options.batchAttempts ?? DEFAULT_BATCH_ATTEMPTS;
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
  }

  /** True when an entry due at `dueAt` can wait in SQS itself (at most 15 minutes ahead). */
  fitsDelay(dueAt: number): boolean {
    return dueAt - this.#clock.now() <= MAX_SQS_DELAY_MS;
  }

  /**
   * Sends every entry, resolving when SQS accepted all of them; otherwise rejects with a
   * SqsSendError naming each one it did not (the others were sent).
   */
  async send(entries: readonly OutgoingEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const batches: OutgoingEntry[][] = [];
    let batch: OutgoingEntry[] = [];
    let bytes = 0;
    for (const entry of entries) {
      const size = Buffer.byteLength(entry.body);
      if (
        batch.length === MAX_BATCH_ENTRIES ||
        (batch.length > 0 && bytes + size > MAX_BATCH_BYTES)
      ) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += size;
    }
    batches.push(batch);
    const failures = (await Promise.all(batches.map((b) => this.#sendBatch(b)))).flat();
    if (failures.length > 0) {
      throw new SqsSendError(
        `could not send ${failures.length} of ${entries.length} entries to the delivery queue ` +
          `(the others were sent): ${failures.map((f) => `${f.about} (${f.reason})`).join('; ')}`,
        failures,
      );
    }
  }

  /** Makes a received entry visible again after `delaySec` (ChangeMessageVisibility). */
  async postpone(receiptHandle: string, delaySec: number): Promise<void> {
    await this.#sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.#queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: delaySec,
      }),
    );
  }

  /** Sends one batch, re-sending the entries that failed retryably; resolves with the rest. */
  async #sendBatch(batch: readonly OutgoingEntry[]): Promise<SendFailure[]> {
    // Ids only need to be unique within one call: the position in this batch is.
    let pending = new Map(batch.map((entry, index) => [String(index), entry]));
    const failures: SendFailure[] = [];
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > 1) await sleep(this.#retryBaseDelayMs * 2 ** (attempt - 2));
      const entries: SendMessageBatchRequestEntry[] = [...pending].map(([id, entry]) => ({
        Id: id,
        MessageBody: entry.body,
        DelaySeconds: this.#delaySec(entry.dueAt),
      }));
      let result: SendMessageBatchCommandOutput;
      try {
        result = await this.#sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
        );
      } catch (error) {
        const reason = `SQS SendMessageBatch failed: ${describe(error)}`;
        for (const entry of pending.values()) failures.push({ about: entry.about, reason });
        return failures;
      }
      const succeeded = new Set((result.Successful ?? []).map((entry) => entry.Id));
      const failedById = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
      const retry = new Map<string, OutgoingEntry>();
      for (const [id, entry] of pending) {
        if (succeeded.has(id)) continue;
        const failed = failedById.get(id);
        const reason = failed
          ? `SQS ${failed.Code ?? 'error'}${failed.Message ? `: ${failed.Message}` : ''}`
          : 'SQS reported neither success nor failure for it';
        // A sender fault (a malformed entry) fails the same way every time.
        if (failed?.SenderFault !== true && attempt < this.#batchAttempts) retry.set(id, entry);
        else failures.push({ about: entry.about, reason });
      }
      pending = retry;
    }
    return failures;
  }

  /** Whole seconds until `dueAt`, rounded up so an entry is never early; 0 when past. */
  #delaySec(dueAt: number): number {
    const seconds = Math.ceil((dueAt - this.#clock.now()) / MS_PER_SEC);
    return Math.min(Math.max(0, seconds), MAX_SQS_DELAY_SEC);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
