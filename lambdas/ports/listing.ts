/**
 * The filters QStash's list and bulk endpoints share (`/v2/messages`, `/v2/dlq`, `/v2/events`):
 * OR within one filter, AND across filters (qstash-api.md §6.1). Absent means "any".
 */
export type MessageFilter = {
  readonly messageIds?: readonly string[];
  readonly url?: readonly string[];
  readonly host?: readonly string[];
  readonly path?: readonly string[];
  readonly topicName?: readonly string[];
  readonly queueName?: readonly string[];
  readonly scheduleId?: readonly string[];
  readonly label?: readonly string[];
  readonly callerIp?: readonly string[];
  /** Inclusive bounds, ms. */
  readonly fromDate?: number;
  readonly toDate?: number;
};

export type ListOrder = 'earliestFirst' | 'latestFirst';

export type ListQuery<F extends MessageFilter = MessageFilter> = {
  readonly filter: F;
  /** Opaque, from the previous page. */
  readonly cursor?: string;
  readonly count: number;
  readonly order: ListOrder;
};

/** One page of a list; `cursor` is absent on the last page, as the SDKs expect. */
export type Page<T> = { readonly items: T[]; readonly cursor?: string };
