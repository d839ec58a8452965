/**
 * The filters QStash's list and bulk endpoints share (`/v2/messages`, `/v2/dlq`, `/v2/events`):
 * OR within one filter, AND across filters (qstash-api.md §6.1). Absent means "any"; a filter
 * given with no values matches nothing (the HTTP layer refuses empty values, so that a filter
 * that was meant to narrow a bulk action can never widen it to everything).
 */
export type MessageFilter = {
  readonly messageIds?: readonly string[];
  /** Exact destination URLs. */
  readonly url?: readonly string[];
  /** The destination URL's host, with its port when the URL names one (`127.0.0.1:8080`). */
  readonly host?: readonly string[];
  /** The destination URL's path, without the query (`/api/hook`). */
  readonly path?: readonly string[];
  readonly topicName?: readonly string[];
  readonly queueName?: readonly string[];
  readonly scheduleId?: readonly string[];
  /** Matches a message carrying any of these labels. */
  readonly label?: readonly string[];
  readonly callerIp?: readonly string[];
  /** The message's flow-control key (`Upstash-Flow-Control-Key`). */
  readonly flowControlKey?: readonly string[];
  /**
   * Inclusive bounds, ms, on the time each list is ordered by: a message's creation, a dead
   * letter's failure, a log entry's time.
   */
  readonly fromDate?: number;
  readonly toDate?: number;
};

export type ListOrder = 'earliestFirst' | 'latestFirst';

/**
 * One page of a keyset-paginated list. The cursor is opaque to everyone but the adapter that
 * made it: it names the position after the last item returned (a sort key, never an offset), so
 * paging never skips or repeats an item however many are added or removed between pages.
 */
export type ListQuery<F extends MessageFilter = MessageFilter> = {
  readonly filter: F;
  /** Opaque, from the previous page. An adapter refuses a cursor it cannot read (400). */
  readonly cursor?: string;
  readonly count: number;
  readonly order: ListOrder;
};

/** One page of a list; `cursor` is absent on the last page, as the SDKs expect. */
export type Page<T> = { readonly items: T[]; readonly cursor?: string };
