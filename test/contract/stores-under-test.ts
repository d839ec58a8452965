import type { DeadLetterStore } from '../../lambdas/ports/dead-letter-store';
import type { EventLog } from '../../lambdas/ports/event-log';
import type { MessageStore } from '../../lambdas/ports/message-store';
import type { PendingMessageList } from '../../lambdas/ports/pending-message-list';

/**
 * One runtime's stores over one database, for the contract suites of the message, DLQ and log
 * ports: their behaviours meet (a settlement writes a dead letter, a cancel writes events), so
 * they are tested together. Each adapter's test file builds one per test.
 */
export type StoresUnderTest = {
  readonly messages: MessageStore;
  readonly deadLetters: DeadLetterStore;
  readonly events: EventLog;
  readonly pending: PendingMessageList;
  /** Takes a message for an attempt as the runtime's delivery does (SQLite: a lease). */
  startAttempt(messageId: string, nowMs: number): Promise<void>;
  /** Gives an attempt back uncounted, as a shutdown does. */
  abandonAttempt(messageId: string): Promise<void>;
  cleanup(): Promise<void>;
};

export type MakeStores = () => Promise<StoresUnderTest>;
