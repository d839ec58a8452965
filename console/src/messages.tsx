import type { TargetedSubmitEvent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, query } from './api';
import { formatTime, parseLocalTime } from './format';
import type { Route } from './router';
import { href, navigate } from './router';
import {
  ColumnHeads,
  Empty,
  ErrorNotice,
  Field,
  Pager,
  StateBadge,
  useCursorPages,
  useDraft,
  useLoad,
  useTickWhile,
} from './ui';

/** Log states after which a message changes no more. */
export const FINAL_STATES = new Set(['DELIVERED', 'FAILED', 'CANCELED']);

export type MessageRow = {
  messageId: string;
  url: string;
  method?: string;
  createdAt?: number;
  labels?: string[];
  queueName?: string;
  scheduleId?: string;
  topicName?: string;
  callbackFor?: { sourceMessageId: string; kind: string };
  state: string;
  inFlight?: boolean;
  updatedAt: number;
  nextDeliveryTime?: number;
  responseStatus?: number;
  error?: string;
};

const PAGE_SIZE = 50;
const FILTERS = [
  'status',
  'url',
  'label',
  'queueName',
  'scheduleId',
  'flowControlKey',
  'from',
  'to',
  'order',
] as const;
const STATUSES: readonly [string, string][] = [
  ['', 'Any state'],
  ['pending', 'Pending'],
  ['inFlight', 'In flight'],
  ['delivered', 'Delivered'],
  ['failed', 'Failed'],
  ['canceled', 'Canceled'],
];

/** The filters a view was opened with, from its address. */
export function filtersOf(route: Route, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, route.params.get(name) ?? '']));
}

/** Reads a filter form into the address, so the view (and a reload) shows what it asked for. */
export function submitFilters(path: string, names: readonly string[]) {
  return (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    navigate(
      path,
      Object.fromEntries(names.map((name) => [name, String(data.get(name) ?? '').trim()])),
    );
  };
}

type Bind = ReturnType<typeof useDraft>['bind'];

/** The filters messages and dead letters share: destination, label, queue, schedule, flow-control key. */
export function MessageFilterFields({ bind }: { bind: Bind }) {
  return (
    <>
      <Field label="Destination URL">
        <input {...bind('url')} type="search" placeholder="exact URL" />
      </Field>
      <Field label="Label">
        <input {...bind('label')} type="search" />
      </Field>
      <Field label="Queue">
        <input {...bind('queueName')} type="search" />
      </Field>
      <Field label="Schedule">
        <input {...bind('scheduleId')} type="search" />
      </Field>
      <Field label="Flow-control key">
        <input {...bind('flowControlKey')} type="search" />
      </Field>
    </>
  );
}

export function FilterButtons({ path }: { path: string }) {
  return (
    <div class="actions">
      <button type="submit">Apply</button>
      <a href={href(path)} class="button secondary">
        Clear
      </a>
    </div>
  );
}

export function MessageTable({ rows }: { rows: readonly MessageRow[] }) {
  return (
    <table>
      <ColumnHeads
        names={['Message', 'State', 'Destination', 'Created', 'Last change', 'Last response']}
      />
      <tbody>
        {rows.map((row) => (
          <tr key={row.messageId}>
            <td>
              <a href={href(`/messages/${encodeURIComponent(row.messageId)}`)} class="mono">
                {row.messageId}
              </a>
              <Tags row={row} />
            </td>
            <td>
              <StateBadge state={row.state} inFlight={row.inFlight} />
              {row.nextDeliveryTime !== undefined && row.state === 'RETRY' && (
                <small class="block">next {formatTime(row.nextDeliveryTime)}</small>
              )}
            </td>
            <td class="url">
              <span class="method">{row.method ?? ''}</span> {row.url}
            </td>
            <td>{formatTime(row.createdAt)}</td>
            <td>{formatTime(row.updatedAt)}</td>
            <td>
              {row.responseStatus !== undefined && <span class="mono">{row.responseStatus}</span>}{' '}
              {row.error && (
                <small class="block clip" title={row.error}>
                  {row.error}
                </small>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Tags({ row }: { row: MessageRow }) {
  const tags = [
    ...(row.labels ?? []).map((label) => `label ${label}`),
    row.queueName && `queue ${row.queueName}`,
    row.scheduleId && `schedule ${row.scheduleId}`,
    row.topicName && `group ${row.topicName}`,
    row.callbackFor && (row.callbackFor.kind === 'callback' ? 'callback' : 'failure callback'),
  ].filter((tag): tag is string => Boolean(tag));
  if (tags.length === 0) return null;
  return (
    <span class="tags">
      {tags.map((tag) => (
        <span key={tag} class="tag">
          {tag}
        </span>
      ))}
    </span>
  );
}

export function MessagesView({ route }: { route: Route }) {
  const filters = filtersOf(route, FILTERS);
  const key = JSON.stringify(filters);
  const pages = useCursorPages(key);
  const { bind } = useDraft(filters, key);
  const [unfinished, setUnfinished] = useState(false);
  // An attempt starting writes no event: while unfinished messages are shown, look on every poll.
  const tick = useTickWhile(unfinished);
  const { data, error, loading } = useLoad(
    () =>
      api<{ messages: MessageRow[]; cursor?: string }>(
        `/v2/console/messages${query({
          status: filters.status,
          url: filters.url,
          label: filters.label,
          queueName: filters.queueName,
          scheduleId: filters.scheduleId,
          flowControlKey: filters.flowControlKey,
          fromDate: parseLocalTime(filters.from),
          toDate: parseLocalTime(filters.to),
          order: filters.order,
          count: PAGE_SIZE,
          cursor: pages.cursor,
        })}`,
      ),
    [key, pages.cursor, tick],
  );
  useEffect(() => {
    setUnfinished(data?.messages.some((row) => !FINAL_STATES.has(row.state)) ?? false);
  }, [data]);
  return (
    <section aria-labelledby="messages-title">
      <h1 id="messages-title">Messages</h1>
      <form
        class="filters"
        onSubmit={submitFilters('/messages', FILTERS)}
        aria-label="Message filters"
      >
        <Field label="State">
          <select {...bind('status')}>
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        <MessageFilterFields bind={bind} />
        <Field label="From">
          <input {...bind('from')} type="datetime-local" step={1} />
        </Field>
        <Field label="To">
          <input {...bind('to')} type="datetime-local" step={1} />
        </Field>
        <Field label="Order">
          <select {...bind('order')}>
            <option value="">Newest first</option>
            <option value="earliestFirst">Oldest first</option>
          </select>
        </Field>
        <FilterButtons path="/messages" />
      </form>
      <p class="hint">
        Times bound when messages were created; for delivered, failed and canceled ones, when they
        ended.
      </p>
      <ErrorNotice error={error} />
      {data && data.messages.length === 0 && <Empty>No messages match.</Empty>}
      {data && data.messages.length > 0 && <MessageTable rows={data.messages} />}
      {!data && loading && <p aria-busy="true">Loading…</p>}
      <Pager
        label="Message"
        page={pages.page}
        nextCursor={data?.cursor}
        onNext={pages.next}
        onPrevious={pages.previous}
      />
    </section>
  );
}
