import { BadRequestError } from '../core/errors';
import { STATE_FILTER_VALUES, statesForFilter } from '../core/logs';
import type { MessageState } from '../core/message';
import type { MessageStatus, OverviewFilter } from '../core/message-overview';
import { MESSAGE_STATUSES } from '../core/message-overview';
import type { DeadLetterFilter } from '../ports/dead-letter-store';
import type { LogFilter } from '../ports/event-log';
import type { ListOrder, ListQuery, MessageFilter } from '../ports/listing';
import type { ApiRequest } from './api-types';
import { readJsonBody } from './json-body';

/**
 * Query parameters of the list and bulk endpoints (`/v2/messages`, `/v2/dlq`, `/v2/events`,
 * qstash-api.md §6.1–6.3), read the same way everywhere: a multi-valued filter may repeat or
 * hold comma-separated values (except `url`, since a URL may hold a comma), OR within a filter,
 * AND across filters. A bad value is a 400 naming the parameter and what it accepts.
 */

const ORDERS: readonly ListOrder[] = ['earliestFirst', 'latestFirst'];
const DEFAULT_ORDER: ListOrder = 'latestFirst';
const WHOLE_NUMBER = /^\d+$/;

/** Multi-valued string filters shared by every area, and where each goes in the filter. */
const LIST_FILTERS: Record<string, keyof MessageFilter> = {
  url: 'url',
  host: 'host',
  path: 'path',
  topicName: 'topicName',
  queueName: 'queueName',
  scheduleId: 'scheduleId',
  label: 'label',
  callerIp: 'callerIp',
  // The deprecated spelling, still accepted (qstash-api.md §6.1).
  callerIP: 'callerIp',
  flowControlKey: 'flowControlKey',
  messageId: 'messageIds',
  messageIds: 'messageIds',
};
const NOT_SPLIT = new Set(['url']);
/** Accepted and ignored: auth, and the SDKs' deprecated `api` filter. */
const IGNORED = new Set(['qstash_token', 'api']);

type Area = {
  /** `count` when none is given; absent: none. */
  readonly countDefault?: number;
  readonly countMax: number;
  /** Refuse parameters not listed here, so a filter that was not understood can never widen a bulk action. */
  readonly strict: boolean;
  /** Accepts `cursor` and `order`. */
  readonly paged: boolean;
  readonly extra: readonly ('dlqIds' | 'responseStatus' | 'state' | 'status')[];
};

const MESSAGES_BULK: Area = {
  countMax: 500,
  strict: true,
  paged: false,
  extra: [],
};
const DLQ_LIST = {
  countDefault: 100,
  countMax: 100,
  strict: false,
  paged: true,
  extra: ['dlqIds', 'responseStatus'],
} as const satisfies Area;
const DLQ_BULK = { ...DLQ_LIST, strict: true } as const satisfies Area;
const LOGS = {
  countDefault: 100,
  countMax: 1000,
  strict: false,
  paged: true,
  extra: ['state'],
} as const satisfies Area;

const MESSAGE_OVERVIEW = {
  countDefault: 50,
  countMax: 100,
  strict: true,
  paged: true,
  extra: ['status'],
} as const satisfies Area;

type AnyFilter = MessageFilter & DeadLetterFilter & LogFilter & OverviewFilter;
type Parsed = Omit<ListQuery<AnyFilter>, 'count'> & { readonly count?: number };

function parse(rawQuery: string, area: Area): Parsed {
  const params = new URLSearchParams(rawQuery);
  const filter: Record<string, unknown> = {};
  const append = (key: string, values: readonly unknown[]) => {
    filter[key] = [...((filter[key] as unknown[] | undefined) ?? []), ...values];
  };
  let count: number | undefined = area.countDefault;
  let order = DEFAULT_ORDER;
  let cursor: string | undefined;
  for (const name of new Set(params.keys())) {
    const all = params.getAll(name);
    const target = LIST_FILTERS[name];
    if (target !== undefined) {
      append(target, splitValues(name, all));
    } else if (name === 'fromDate' || name === 'toDate') {
      filter[name] = parseWholeNumber(name, single(name, all), 'a Unix time in milliseconds');
    } else if (name === 'count') {
      count = parseCount(single(name, all), area);
    } else if (area.paged && name === 'cursor') {
      cursor = single(name, all) || undefined;
    } else if (area.paged && name === 'order') {
      order = parseOrder(single(name, all));
    } else if (area.extra.includes('dlqIds') && name === 'dlqIds') {
      append('dlqIds', splitValues(name, all));
    } else if (area.extra.includes('responseStatus') && name === 'responseStatus') {
      append(
        'responseStatus',
        splitValues(name, all).map((value) =>
          parseWholeNumber(name, value, 'an HTTP status code, or 0 for no response'),
        ),
      );
    } else if (area.extra.includes('state') && name === 'state') {
      append('states', splitValues(name, all).flatMap(parseState));
    } else if (area.extra.includes('status') && name === 'status') {
      filter.status = parseStatus(single(name, all));
    } else if (area.strict && !IGNORED.has(name)) {
      throw new BadRequestError(
        `unknown query parameter "${name}": allowed parameters are ${allowedParameters(area).join(', ')}`,
      );
    }
  }
  if (Array.isArray(filter.states)) filter.states = [...new Set(filter.states as MessageState[])];
  return {
    filter: filter as AnyFilter,
    ...(count !== undefined && { count }),
    order,
    ...(cursor !== undefined && { cursor }),
  };
}

/** A paged list's query: `count` has its default. */
function parsePaged(
  rawQuery: string,
  area: Area & { readonly countDefault: number },
): ListQuery<AnyFilter> {
  const parsed = parse(rawQuery, area);
  return { ...parsed, count: parsed.count ?? area.countDefault };
}

function allowedParameters(area: Area): string[] {
  return [
    ...Object.keys(LIST_FILTERS),
    'fromDate',
    'toDate',
    'count',
    ...(area.paged ? ['cursor', 'order'] : []),
    ...area.extra,
  ];
}

function single(name: string, values: readonly string[]): string {
  if (values.length > 1) {
    throw new BadRequestError(
      `query parameter "${name}" is given ${values.length} times; give it once`,
    );
  }
  return values[0]!;
}

function splitValues(name: string, values: readonly string[]): string[] {
  const split = NOT_SPLIT.has(name)
    ? values.map((value) => value.trim())
    : values.flatMap((value) => value.split(',').map((part) => part.trim()));
  if (split.some((value) => value === '')) {
    // An empty filter value would select everything on a bulk action: refuse it instead.
    throw new BadRequestError(
      `query parameter "${name}" has an empty value; give one or more values, repeated or comma-separated`,
    );
  }
  return split;
}

function parseWholeNumber(name: string, value: string, expected: string): number {
  const trimmed = value.trim();
  const number = Number(trimmed);
  if (!WHOLE_NUMBER.test(trimmed) || !Number.isSafeInteger(number)) {
    throw new BadRequestError(`invalid ${name} "${value}": expected ${expected}`);
  }
  return number;
}

function parseCount(value: string, area: Area): number {
  const expected = `a whole number from 1 to ${area.countMax}`;
  const count = parseWholeNumber('count', value, expected);
  if (count < 1 || count > area.countMax) {
    throw new BadRequestError(`invalid count "${value}": expected ${expected}`);
  }
  return count;
}

function parseOrder(value: string): ListOrder {
  const order = ORDERS.find((allowed) => allowed === value.trim());
  if (!order) {
    throw new BadRequestError(`invalid order "${value}": allowed values are ${ORDERS.join(', ')}`);
  }
  return order;
}

function parseState(value: string): readonly MessageState[] {
  const states = statesForFilter(value);
  if (!states) {
    throw new BadRequestError(
      `invalid state "${value}": allowed values are ${STATE_FILTER_VALUES.join(', ')}`,
    );
  }
  return states;
}

function parseStatus(value: string): MessageStatus {
  const status = MESSAGE_STATUSES.find((allowed) => allowed === value.trim());
  if (!status) {
    throw new BadRequestError(
      `invalid status "${value}": allowed values are ${MESSAGE_STATUSES.join(', ')}`,
    );
  }
  return status;
}

/**
 * Ids from a DELETE's JSON body, as the Python SDK sends them (`{"messageIds": [...]}`,
 * `{"dlqIds": [...]}`); undefined when the body is empty or does not name any.
 */
function idsFromBody(request: ApiRequest, key: string): string[] | undefined {
  const expected = `{"${key}": ["..."]} or no body`;
  const body = readJsonBody(request, expected);
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError(`invalid request body: expected ${expected}`);
  }
  const ids = (body as Record<string, unknown>)[key];
  if (ids === undefined || ids === null) return undefined;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
    throw new BadRequestError(`invalid "${key}" in the request body: expected ${expected}`);
  }
  return ids as string[];
}

/**
 * `DELETE /v2/messages`: the filter selecting the messages to cancel, and `count`, the most to
 * cancel (absent: all of them, as the Python SDK's `cancel_all` and plain API calls expect).
 */
export function parseMessageCancelRequest(request: ApiRequest): {
  filter: MessageFilter;
  count?: number;
} {
  const { filter, count } = parse(request.rawQuery, MESSAGES_BULK);
  const messageIds = idsFromBody(request, 'messageIds');
  return {
    filter: messageIds === undefined ? filter : { ...filter, messageIds },
    ...(count !== undefined && { count }),
  };
}

/** `GET /v2/dlq`: count defaults to and is at most 100. */
export function parseDeadLetterListQuery(rawQuery: string): ListQuery<DeadLetterFilter> {
  return parsePaged(rawQuery, DLQ_LIST);
}

/**
 * `DELETE /v2/dlq` and `POST /v2/dlq/retry`: the list's parameters, refusing unknown ones, and
 * `{"dlqIds": [...]}` from a JSON body.
 */
export function parseDeadLetterBulkRequest(request: ApiRequest): ListQuery<DeadLetterFilter> {
  const query = parsePaged(request.rawQuery, DLQ_BULK);
  const dlqIds = idsFromBody(request, 'dlqIds');
  return dlqIds === undefined ? query : { ...query, filter: { ...query.filter, dlqIds } };
}

/** `GET /v2/events` and `/v2/logs`: count defaults to 100, at most 1000. */
export function parseLogQuery(rawQuery: string): ListQuery<LogFilter> {
  return parsePaged(rawQuery, LOGS);
}

/** `GET /v2/console/messages`: the message filters and `status`; count defaults to 50, at most 100. */
export function parseMessageOverviewQuery(rawQuery: string): ListQuery<OverviewFilter> {
  return parsePaged(rawQuery, MESSAGE_OVERVIEW);
}
