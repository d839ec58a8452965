import type { Message } from '../core/message';

/** Why a message handed to the AWS delivery function may or may not be attempted now. */
export type ClaimResult =
  | { readonly kind: 'claimed'; readonly message: Message; readonly retried: number }
  /** Not due yet (a long delay woke early: Scheduler fires to the minute). */
  | { readonly kind: 'not-due'; readonly dueAt: number }
  /** In a FIFO queue, but not in its window (earlier messages are still open) or the queue is paused. */
  | { readonly kind: 'blocked'; readonly reason: 'queue-window' | 'queue-paused' }
  /** Another attempt holds an unexpired lease (a duplicate SQS delivery). */
  | { readonly kind: 'in-flight' }
  /** No pending message by that id: delivered, failed, canceled, or not stored (yet). */
  | { readonly kind: 'missing' };

/**
 * Per-message claiming for runtimes whose queue hands over one message id at a time (AWS: an
 * SQS record). A claim is a lease taken with a conditional write, so two concurrent receives
 * of the same id cannot both attempt it.
 */
export type DeliveryLedger = {
  claim(messageId: string, nowMs: number, leaseUntil: number): Promise<ClaimResult>;
  /** Gives a claimed message back uncounted (the attempt could not run). */
  release(messageId: string): Promise<void>;
};
