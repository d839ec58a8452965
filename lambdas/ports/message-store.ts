import type { DeadLetter, LogEvent, Message } from '../core/message';
import type { MessageFilter } from './listing';

/** A dedup key claimed together with the message it first published. */
export type DedupClaim = { readonly key: string; readonly expiresAt: number };

export type InsertResult = { inserted: true } | { inserted: false; existingMessageId: string };

/** A message to store, with the dedup key it claims, if any. */
export type NewMessage = { readonly message: Message; readonly dedup?: DedupClaim };

/** What an attempt changed, persisted in one step so a crash leaves either all of it or none. */
export type AttemptSettlement = {
  readonly message: Message;
  /** The attempt's `Upstash-Retried`: 0 for the first attempt. */
  readonly retried: number;
  readonly outcome:
    | { readonly kind: 'delivered' }
    | { readonly kind: 'retry'; readonly retryAt: number }
    | { readonly kind: 'failed'; readonly deadLetter: DeadLetter }
    /** The message was canceled while the attempt ran: it ends here (core/messages.ts). */
    | { readonly kind: 'canceled' };
  readonly events: readonly LogEvent[];
  /** Callback and failure-callback messages to create; they are delivered like any message. */
  readonly callbacks: readonly Message[];
  /**
   * The lease the attempt ran under, as the runtime's claim handed it out; opaque to the core.
   * A store whose attempts can race (AWS: an SQS entry received twice) fences the settlement
   * with it, so that only one settlement of an attempt is ever applied.
   */
  readonly lease?: string;
};

/**
 * Where messages, dedup keys, event logs and dead letters live. A store also makes the
 * messages it is handed deliverable at their due time (SQLite: its due-time index is the queue;
 * AWS: SQS and EventBridge Scheduler), so an inserted message needs nothing more to arrive.
 *
 * Visibility: a message is visible to `getMessage`, `getPendingMessage`, `cancelMessages` and the
 * event log once the store records it. SQLite records every message when it is inserted. The
 * AWS store records a message that SQS cannot carry alone (delayed past 15 minutes, in a FIFO
 * queue, or every message with `sqstash:visibility=immediate`) when it is inserted, and any
 * other message with its first outcome (README, "Deploy to AWS").
 */
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
  /**
   * Stores several messages all or none (a URL group's fan-out): when it resolves, every
   * message not held back by its dedup claim is stored with its CREATED event; when it fails or
   * the process dies, none is. Each dedup claim is decided as insertMessage decides it, and the
   * results come back in order. (AWS: none is delivered, nor left waiting; a recorded message
   * of a publish that died ends CANCELED when it comes due.)
   */
  insertMessages(messages: readonly NewMessage[], nowMs: number): Promise<InsertResult[]>;
  /** A message that is pending or failed; not one delivered or canceled. */
  getMessage(messageId: string): Promise<Message | undefined>;
  /**
   * Persists an attempt's settlement in one step and resolves with the settlement as applied.
   * When the message was canceled while its attempt ran, the store applies
   * `canceledSettlement(settlement)` from core/messages.ts instead, atomically with reading the
   * cancel mark, so a cancel is never lost to a settlement racing it. Resolves undefined, having
   * changed nothing, when another settlement of the same attempt was applied first (a stale lease).
   */
  settleAttempt(settlement: AttemptSettlement): Promise<AttemptSettlement | undefined>;
  /**
   * A message that may still be attempted: not delivered, failed or canceled (a message whose
   * attempt is in flight is pending until it settles, unless a cancel was requested).
   */
  getPendingMessage(messageId: string): Promise<Message | undefined>;
  /**
   * Cancels every pending message matching `filter` (`fromDate`/`toDate` bound the creation
   * time), each atomically, and resolves with how many were canceled. SQLite cancels the whole
   * set in one step; DynamoDB cannot make an unbounded set of changes atomic, so there a message
   * published or settled while the cancel runs may or may not be among them. Each message:
   * - waiting for an attempt: removed, with CANCEL_REQUESTED then CANCELED events at `nowMs`;
   * - attempt in flight: marked, with a CANCEL_REQUESTED event; its settlement then ends it
   *   CANCELED (see settleAttempt), and an attempt given back uncounted (shutdown, crash) ends
   *   it CANCELED instead of running again.
   * A store that cannot tell an attempt in flight from one about to start (AWS, for a message
   * already due) treats it as in flight. Messages already canceled, delivered or failed do not
   * match. With `limit`, at most that many are canceled, the earliest created first.
   */
  cancelMessages(filter: MessageFilter, nowMs: number, limit?: number): Promise<number>;
};
