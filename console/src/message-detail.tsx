import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { formatBytes, formatTime } from './format';
import type { MessageRow } from './messages';
import { FINAL_STATES, MessageTable } from './messages';
import { href } from './router';
import { ErrorNotice, StateBadge, StatusLine, useActions, useLoad, useTickWhile } from './ui';

type Excerpt = { excerpt?: string; bytes: number; truncated?: boolean; binary?: boolean };
type TimelineEvent = {
  time: number;
  state: string;
  error?: string;
  nextDeliveryTime?: number;
  responseStatus?: number;
  responseHeader?: Record<string, string[]>;
  responseBody?: Excerpt;
};
type Story = {
  messageId: string;
  state?: string;
  inFlight?: boolean;
  request?: {
    url: string;
    method: string;
    header?: Record<string, string[]>;
    body: Excerpt;
    maxRetries?: number;
    timeout?: number;
    notBefore?: number;
    createdAt?: number;
    callback?: string;
    failureCallback?: string;
    queueName?: string;
    scheduleId?: string;
    topicName?: string;
    labels?: string[];
    retryDelayExpression?: string;
    callbackFor?: { sourceMessageId: string; kind: string };
  };
  events: TimelineEvent[];
  deadLetter?: { dlqId: string; failedAt: number; responseStatus: number };
  callbacks: MessageRow[];
};

const PENDING_STATES = new Set(['CREATED', 'RETRY', 'ACTIVE']);

function Body({ body, label }: { body: Excerpt | undefined; label: string }) {
  if (!body || body.bytes === 0) return <p class="muted">{label}: empty</p>;
  if (body.binary)
    return (
      <p class="muted">
        {label}: {formatBytes(body.bytes)} of binary data
      </p>
    );
  return (
    <figure>
      <figcaption>
        {label} ({formatBytes(body.bytes)}
        {body.truncated ? ', first part shown' : ''})
      </figcaption>
      <pre>{body.excerpt}</pre>
    </figure>
  );
}

function Headers({
  headers,
  caption,
}: {
  headers: Record<string, string[]> | undefined;
  caption: string;
}) {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return null;
  return (
    <table class="compact">
      <caption>{caption}</caption>
      <tbody>
        {entries.map(([name, values]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td class="mono">{values.join(', ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function MessageDetailView({ messageId }: { messageId: string }) {
  const [unfinished, setUnfinished] = useState(true);
  const tick = useTickWhile(unfinished);
  const { data, error, reload } = useLoad(
    () => api<Story>(`/v2/console/messages/${encodeURIComponent(messageId)}`),
    [messageId, tick],
  );
  useEffect(() => {
    if (data) setUnfinished(!FINAL_STATES.has(data.state ?? ''));
  }, [data]);
  const { status, error: actionError, act } = useActions(reload);
  const request = data?.request;
  return (
    <section aria-labelledby="message-title">
      <p>
        <a href={href('/messages')}>← Messages</a>
      </p>
      <h1 id="message-title">
        Message <span class="mono">{messageId}</span>{' '}
        {data?.state && <StateBadge state={data.state} inFlight={data.inFlight} />}
      </h1>
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      <StatusLine text={status} />
      {data && (
        <div class="actions">
          {data.state && PENDING_STATES.has(data.state) && (
            <button
              type="button"
              class="danger"
              onClick={() =>
                act(async () => {
                  await api(`/v2/messages/${encodeURIComponent(messageId)}`, { method: 'DELETE' });
                  return 'Cancel requested.';
                })
              }
            >
              Cancel message
            </button>
          )}
          {data.deadLetter && (
            <button
              type="button"
              onClick={() =>
                act(async () => {
                  const answer = await api<{ messageId: string }>(
                    `/v2/dlq/retry/${encodeURIComponent(data.deadLetter!.dlqId)}`,
                    { method: 'POST' },
                  );
                  return `Retried as ${answer.messageId}.`;
                })
              }
            >
              Retry from the DLQ
            </button>
          )}
          {request?.callbackFor && (
            <a href={href(`/messages/${encodeURIComponent(request.callbackFor.sourceMessageId)}`)}>
              {request.callbackFor.kind === 'callback' ? 'Callback' : 'Failure callback'} of{' '}
              {request.callbackFor.sourceMessageId}
            </a>
          )}
        </div>
      )}
      {request && (
        <section aria-labelledby="request-title">
          <h2 id="request-title">Request</h2>
          <p class="url">
            <span class="method">{request.method}</span> {request.url}
          </p>
          <dl class="facts">
            <dt>Created</dt>
            <dd>{formatTime(request.createdAt)}</dd>
            <dt>First attempt due</dt>
            <dd>{formatTime(request.notBefore)}</dd>
            <dt>Retries</dt>
            <dd>{request.maxRetries ?? '–'}</dd>
            <dt>Timeout</dt>
            <dd>{request.timeout !== undefined ? `${request.timeout / 1000} s` : '–'}</dd>
            {request.retryDelayExpression && (
              <>
                <dt>Retry delay</dt>
                <dd class="mono">{request.retryDelayExpression}</dd>
              </>
            )}
            {request.callback && (
              <>
                <dt>Callback</dt>
                <dd class="url">{request.callback}</dd>
              </>
            )}
            {request.failureCallback && (
              <>
                <dt>Failure callback</dt>
                <dd class="url">{request.failureCallback}</dd>
              </>
            )}
            {request.queueName && (
              <>
                <dt>Queue</dt>
                <dd>{request.queueName}</dd>
              </>
            )}
            {request.scheduleId && (
              <>
                <dt>Schedule</dt>
                <dd>{request.scheduleId}</dd>
              </>
            )}
            {request.topicName && (
              <>
                <dt>URL group</dt>
                <dd>{request.topicName}</dd>
              </>
            )}
            {request.labels && request.labels.length > 0 && (
              <>
                <dt>Labels</dt>
                <dd>{request.labels.join(', ')}</dd>
              </>
            )}
          </dl>
          <Headers headers={request.header} caption="Headers sent to the destination" />
          <Body body={request.body} label="Body" />
        </section>
      )}
      {data && (
        <section aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <ol class="timeline">
            {data.events.map((event, index) => (
              <li key={`${event.time}-${index}`}>
                <time>{formatTime(event.time)}</time> <StateBadge state={event.state} asEvent />
                {event.responseStatus !== undefined && (
                  <span class="mono"> HTTP {event.responseStatus}</span>
                )}
                {event.nextDeliveryTime !== undefined && (
                  <span> next attempt {formatTime(event.nextDeliveryTime)}</span>
                )}
                {event.error && <p class="error-text">{event.error}</p>}
                <Headers headers={event.responseHeader} caption="Response headers" />
                {event.responseBody && <Body body={event.responseBody} label="Response body" />}
              </li>
            ))}
          </ol>
        </section>
      )}
      {data && data.callbacks.length > 0 && (
        <section aria-labelledby="callbacks-title">
          <h2 id="callbacks-title">Callbacks</h2>
          <MessageTable rows={data.callbacks} />
        </section>
      )}
    </section>
  );
}
