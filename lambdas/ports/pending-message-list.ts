import type { Message } from '../core/message';
import type { ListQuery, MessageFilter, Page } from './listing';

/** A message that may still be attempted, with where it stands. */
export type PendingMessage = {
  readonly message: Message;
  /** The `Upstash-Retried` of its next attempt, or of the one in flight. */
  readonly retried: number;
  /** When its next attempt is due (ms); for an attempt in flight, when that one was due. */
  readonly dueAt: number;
  /** An attempt holds it right now. */
  readonly inFlight: boolean;
};

/** The message filters (`fromDate`/`toDate` bound the creation time), and in flight or not. */
export type PendingFilter = MessageFilter & { readonly inFlight?: boolean };

/**
 * The pending messages, read side: those `MessageStore.getPendingMessage` finds (not delivered,
 * failed or canceled, no cancel waiting on their attempt), listed by creation time, then id, with
 * keyset cursors. The MessageStore writes them; the console lists them.
 */
export type PendingMessageList = {
  listPendingMessages(query: ListQuery<PendingFilter>): Promise<Page<PendingMessage>>;
};
