import type { DeadLetter, Message } from '../core/message';
import type { ListQuery, MessageFilter, Page } from './listing';

/** A dead letter with the message it holds, as it was when it failed. */
export type DeadLetterEntry = { readonly deadLetter: DeadLetter; readonly message: Message };

/**
 * The DLQ filters (qstash-api.md §6.2): the message filters, bounding `fromDate`/`toDate` on the
 * failure time, plus the entry's own id and the last response's status (0 for none).
 */
export type DeadLetterFilter = MessageFilter & {
  readonly dlqIds?: readonly string[];
  readonly responseStatus?: readonly number[];
};

/** A dead letter to take out of the DLQ and the new message that replaces it. */
export type DeadLetterReplacement = { readonly dlqId: string; readonly message: Message };

/**
 * The dead-letter queue. Entries are written by `MessageStore.settleAttempt` (a failed outcome);
 * this port reads and removes them. Lists are ordered by failure time, then dlqId.
 */
export type DeadLetterStore = {
  listDeadLetters(query: ListQuery<DeadLetterFilter>): Promise<Page<DeadLetterEntry>>;
  getDeadLetter(dlqId: string): Promise<DeadLetterEntry | undefined>;
  /**
   * Deletes the first `query.count` matching entries after `query.cursor`, in `query.order`,
   * each atomically (SQLite: all in one step), counting only those this call removed. `cursor` is
   * present when more entries matched, to delete the next batch with.
   */
  deleteDeadLetters(
    query: ListQuery<DeadLetterFilter>,
  ): Promise<{ readonly deleted: number; readonly cursor?: string }>;
  /**
   * Retries dead letters, all or nothing: each entry is removed and its replacement stored as
   * a new message (with its CREATED event), in one atomic step. When any dlqId is not in the
   * DLQ (never was, deleted, or already retried) nothing changes, and the missing ids are
   * returned. The store makes the new messages deliverable, as insertMessage does. (AWS checks
   * every entry first, then publishes the replacements and removes the entries; only an entry
   * removed by another request meanwhile can leave it half done.)
   */
  replaceWithMessages(
    replacements: readonly DeadLetterReplacement[],
    nowMs: number,
  ): Promise<{ readonly missing: readonly string[] }>;
};
