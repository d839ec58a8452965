import type { TargetedSubmitEvent } from 'preact';
import { useState } from 'preact/hooks';
import type { RawAnswer } from './api';
import { requestRaw } from './api';
import { destinationPath, requestHeaders, settingHeaders } from './request-headers';
import { href } from './router';
import { ErrorNotice, Field, useDraft } from './ui';

const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'];
const INITIAL = {
  destination: '',
  method: 'POST',
  contentType: 'application/json',
  headers: '',
  delay: '',
  retries: '',
  callback: '',
  failureCallback: '',
  label: '',
  queue: '',
  body: '',
};

/** The ids an answer names: one message, a URL group's array, or a batch's. */
function messageIdsOf(body: unknown): string[] {
  const items = Array.isArray(body) ? body : [body];
  return items.flatMap((item) =>
    item &&
    typeof item === 'object' &&
    typeof (item as { messageId?: unknown }).messageId === 'string'
      ? [(item as { messageId: string }).messageId]
      : [],
  );
}

/** The request builder: what a publish would send, sent, with the server's answer shown as it came. */
export function PublishView() {
  const { draft, bind } = useDraft(INITIAL);
  const [answer, setAnswer] = useState<RawAnswer>();
  const [error, setError] = useState<unknown>();
  const [sending, setSending] = useState(false);

  const submit = async (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setError(undefined);
    setAnswer(undefined);
    try {
      const headers = { ...requestHeaders(draft.headers ?? ''), ...settingHeaders(draft) };
      const destination = destinationPath(draft.destination ?? '');
      if (destination === '') throw new Error('give a destination: a URL or a URL group name');
      const queue = draft.queue?.trim();
      const path = queue
        ? `/v2/enqueue/${encodeURIComponent(queue)}/${destination}`
        : `/v2/publish/${destination}`;
      setSending(true);
      setAnswer(
        await requestRaw(path, {
          method: 'POST',
          headers,
          ...(draft.method !== 'GET' && draft.body ? { body: draft.body } : {}),
        }),
      );
    } catch (failure) {
      setError(failure);
    } finally {
      setSending(false);
    }
  };
  const ids = answer ? messageIdsOf(answer.body) : [];

  return (
    <section aria-labelledby="publish-title">
      <h1 id="publish-title">Publish</h1>
      <form class="builder" onSubmit={submit} aria-label="Request builder">
        <div class="row">
          <Field label="Method">
            <select {...bind('method')}>
              {METHODS.map((method) => (
                <option key={method}>{method}</option>
              ))}
            </select>
          </Field>
          <Field label="Destination" hint="A URL, or the name of a URL group">
            <input
              {...bind('destination')}
              type="text"
              required
              placeholder="https://example.com/hook"
            />
          </Field>
        </div>
        <div class="row">
          <Field label="Content-Type">
            <input {...bind('contentType')} type="text" />
          </Field>
          <Field label="Delay" hint="e.g. 10s, 5m, 1h">
            <input {...bind('delay')} type="text" />
          </Field>
          <Field label="Retries">
            <input {...bind('retries')} type="number" min={0} />
          </Field>
          <Field label="Queue" hint="Enqueue into this FIFO queue">
            <input {...bind('queue')} type="text" />
          </Field>
          <Field label="Label">
            <input {...bind('label')} type="text" />
          </Field>
        </div>
        <div class="row">
          <Field label="Callback URL">
            <input {...bind('callback')} type="url" />
          </Field>
          <Field label="Failure callback URL">
            <input {...bind('failureCallback')} type="url" />
          </Field>
        </div>
        <Field
          label="Headers"
          hint="One Name: value a line. Upstash-* headers are settings; others are forwarded to the destination."
        >
          <textarea {...bind('headers')} rows={3} spellcheck={false} />
        </Field>
        <Field label="Body">
          <textarea {...bind('body')} rows={8} spellcheck={false} />
        </Field>
        <div class="actions">
          <button type="submit" disabled={sending}>
            {sending ? 'Sending…' : 'Send'}
          </button>
        </div>
      </form>
      <ErrorNotice error={error} />
      {answer && (
        <section aria-labelledby="answer-title" class="answer">
          <h2 id="answer-title">
            Answer{' '}
            <span class={`mono ${answer.status < 300 ? 'good' : 'bad'}`}>HTTP {answer.status}</span>
          </h2>
          <pre>
            {typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2)}
          </pre>
          {ids.length > 0 && (
            <ul>
              {ids.map((id) => (
                <li key={id}>
                  <a href={href(`/messages/${encodeURIComponent(id)}`)}>Follow {id}</a>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </section>
  );
}
