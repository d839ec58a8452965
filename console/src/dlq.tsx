import { useState } from 'preact/hooks';
import { api, query } from './api';
import { formatTime, parseLocalTime } from './format';
import { FilterButtons, filtersOf, MessageFilterFields, submitFilters } from './messages';
import type { Route } from './router';
import { href } from './router';
import {
  ColumnHeads,
  Empty,
  ErrorNotice,
  Field,
  Pager,
  StatusLine,
  useActions,
  useCursorPages,
  useDraft,
  useLoad,
} from './ui';

type DeadLetterRow = {
  dlqId: string;
  messageId: string;
  url: string;
  method?: string;
  createdAt?: number;
  responseStatus: number;
  labels?: string[];
  queueName?: string;
  scheduleId?: string;
};

const PAGE_SIZE = 50;
const FILTERS = [
  'url',
  'label',
  'queueName',
  'scheduleId',
  'flowControlKey',
  'responseStatus',
  'from',
  'to',
] as const;
const DLQ_ID_TIME = /^(\d+)-\d+$/;

/** DLQ ids are `<failure time in ms>-<sequence>`, as QStash's. */
function failedAt(dlqId: string): number | undefined {
  const match = DLQ_ID_TIME.exec(dlqId);
  return match ? Number(match[1]) : undefined;
}

export function DlqView({ route }: { route: Route }) {
  const filters = filtersOf(route, FILTERS);
  const key = JSON.stringify(filters);
  const pages = useCursorPages(key);
  const { bind } = useDraft(filters, key);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const { data, error, reload } = useLoad(
    () =>
      api<{ messages: DeadLetterRow[]; cursor?: string }>(
        `/v2/dlq${query({
          url: filters.url,
          label: filters.label,
          queueName: filters.queueName,
          scheduleId: filters.scheduleId,
          flowControlKey: filters.flowControlKey,
          responseStatus: filters.responseStatus,
          fromDate: parseLocalTime(filters.from),
          toDate: parseLocalTime(filters.to),
          count: PAGE_SIZE,
          cursor: pages.cursor,
        })}`,
      ),
    [key, pages.cursor],
  );
  const rows = data?.messages ?? [];
  const visible = rows.filter((row) => selected.has(row.dlqId)).map((row) => row.dlqId);

  const {
    status,
    error: actionError,
    act,
  } = useActions(() => {
    setSelected(new Set());
    reload();
  });
  const retry = (dlqIds: readonly string[]) =>
    act(async () => {
      const answer = await api<{ responses: { messageId: string }[] }>('/v2/dlq/retry', {
        method: 'POST',
        json: { dlqIds },
      });
      const count = answer.responses.length;
      return `Retried ${count} ${count === 1 ? 'message' : 'messages'}.`;
    });
  const remove = (dlqIds: readonly string[]) => {
    const noun = dlqIds.length === 1 ? 'dead letter' : 'dead letters';
    if (!window.confirm(`Delete ${dlqIds.length} ${noun}? This cannot be undone.`)) return;
    void act(async () => {
      const answer = await api<{ deleted: number }>('/v2/dlq', {
        method: 'DELETE',
        json: { dlqIds },
      });
      return `Deleted ${answer.deleted} ${answer.deleted === 1 ? 'dead letter' : 'dead letters'}.`;
    });
  };
  const toggle = (dlqId: string, on: boolean) =>
    setSelected((previous) => {
      const next = new Set(previous);
      if (on) next.add(dlqId);
      else next.delete(dlqId);
      return next;
    });

  return (
    <section aria-labelledby="dlq-title">
      <h1 id="dlq-title">Dead-letter queue</h1>
      <form class="filters" onSubmit={submitFilters('/dlq', FILTERS)} aria-label="DLQ filters">
        <MessageFilterFields bind={bind} />
        <Field label="Response status">
          <input
            {...bind('responseStatus')}
            type="search"
            inputMode="numeric"
            placeholder="e.g. 500, 0 for none"
          />
        </Field>
        <Field label="Failed from">
          <input {...bind('from')} type="datetime-local" step={1} />
        </Field>
        <Field label="Failed until">
          <input {...bind('to')} type="datetime-local" step={1} />
        </Field>
        <FilterButtons path="/dlq" />
      </form>
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      <StatusLine text={status} />
      <div class="actions">
        <button type="button" disabled={visible.length === 0} onClick={() => retry(visible)}>
          Retry selected ({visible.length})
        </button>
        <button
          type="button"
          class="danger"
          disabled={visible.length === 0}
          onClick={() => remove(visible)}
        >
          Delete selected ({visible.length})
        </button>
      </div>
      {data && rows.length === 0 && <Empty>The DLQ holds no failed messages that match.</Empty>}
      {rows.length > 0 && (
        <table>
          <ColumnHeads
            names={[
              <input
                key="all"
                type="checkbox"
                aria-label="Select every dead letter on this page"
                checked={visible.length === rows.length}
                onChange={(event) =>
                  setSelected(
                    new Set(event.currentTarget.checked ? rows.map((row) => row.dlqId) : []),
                  )
                }
              />,
              'Message',
              'Destination',
              'Last response',
              'Created',
              'Failed',
              'Actions',
            ]}
          />
          <tbody>
            {rows.map((row) => (
              <tr key={row.dlqId}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select dead letter ${row.dlqId}`}
                    checked={selected.has(row.dlqId)}
                    onChange={(event) => toggle(row.dlqId, event.currentTarget.checked)}
                  />
                </td>
                <td>
                  <a href={href(`/messages/${encodeURIComponent(row.messageId)}`)} class="mono">
                    {row.messageId}
                  </a>
                  <small class="block mono">DLQ {row.dlqId}</small>
                </td>
                <td class="url">
                  <span class="method">{row.method ?? ''}</span> {row.url}
                </td>
                <td class="mono">
                  {row.responseStatus === 0 ? 'no response' : row.responseStatus}
                </td>
                <td>{formatTime(row.createdAt)}</td>
                <td>{formatTime(failedAt(row.dlqId))}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    onClick={() => retry([row.dlqId])}
                    aria-label={`Retry ${row.messageId}`}
                  >
                    Retry
                  </button>
                  <button
                    type="button"
                    class="danger"
                    onClick={() => remove([row.dlqId])}
                    aria-label={`Delete dead letter of ${row.messageId}`}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager
        label="DLQ"
        page={pages.page}
        nextCursor={data?.cursor}
        onNext={pages.next}
        onPrevious={pages.previous}
      />
    </section>
  );
}
