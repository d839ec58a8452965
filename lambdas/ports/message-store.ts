import type { DeadLetter, LogEvent, Message } from '../core/message';

/** A dedup key claimed together with the message it first published. */
export type DedupClaim = { readonly key: string; readonly expiresAt: number };

export type InsertResult = { inserted: true } | { inserted: false; existingMessageId: string };

/** What an attempt changed, persisted in one step so a crash leaves either all of it or none. */
export type AttemptSettlement = {
  readonly message: Message;
  /** The attempt's `Upstash-Retried`: 0 for the first attempt. */
  readonly retried: number;
  readonly outcome:
    | { readonly kind: 'delivered' }
    | { readonly kind: 'retry'; readonly retryAt: number }
    | { readonly kind: 'failed'; readonly deadLetter: DeadLetter };
  readonly events: readonly LogEvent[];
  /** Callback and failure-callback messages to create; they are delivered like any message. */
  readonly callbacks: readonly Message[];
};

/** Where messages, dedup keys, event logs and dead letters live. */
export type MessageStore = {
  /**
   * Stores a new message and its CREATED event. With a dedup claim, the insert happens only
   * if no unexpired claim holds the key; otherwise nothing is written and the holder is returned.
   */
  insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult>;
  getMessage(messageId: string): Promise<Message | undefined>;
  settleAttempt(settlement: AttemptSettlement): Promise<void>;
};

/** Hands stored messages to the runtime's delivery mechanism at their due time. */
export type DeliveryQueue = {
  enqueue(messageId: string, dueAt: number): Promise<void>;
};
