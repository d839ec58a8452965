import type { TargetedSubmitEvent } from 'preact';
import { api } from './api';
import { formatTime } from './format';
import { destinationPath, requestHeaders, settingHeaders } from './request-headers';
import { href } from './router';
import {
  ColumnHeads,
  Empty,
  ErrorNotice,
  Field,
  StatusLine,
  useActions,
  useDraft,
  useLoad,
} from './ui';

type Schedule = {
  scheduleId: string;
  cron: string;
  destination: string;
  method: string;
  isPaused: boolean;
  createdAt: number;
  lastScheduleTime?: number;
  nextScheduleTime?: number;
  retries?: number;
  queueName?: string;
  error?: string;
};

const INITIAL = {
  destination: '',
  cron: '*/5 * * * *',
  scheduleId: '',
  method: 'POST',
  contentType: 'application/json',
  retries: '',
  delay: '',
  headers: '',
  body: '',
};

export function SchedulesView() {
  const { data, error, reload } = useLoad(() => api<Schedule[]>('/v2/schedules'), []);
  const { draft, bind, setDraft } = useDraft(INITIAL);

  const { status, error: actionError, act } = useActions(reload);
  const create = (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    void act(async () => {
      const headers: Record<string, string> = {
        ...requestHeaders(draft.headers ?? ''),
        ...settingHeaders(draft),
        'Upstash-Cron': draft.cron ?? '',
      };
      if (draft.scheduleId?.trim()) headers['Upstash-Schedule-Id'] = draft.scheduleId.trim();
      const answer = await api<{ scheduleId: string }>(
        `/v2/schedules/${destinationPath(draft.destination ?? '')}`,
        { method: 'POST', headers, ...(draft.body ? { body: draft.body } : {}) },
      );
      setDraft(INITIAL);
      return `Created schedule ${answer.scheduleId}.`;
    });
  };
  const path = (schedule: Schedule, action = '') =>
    `/v2/schedules/${encodeURIComponent(schedule.scheduleId)}${action}`;

  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      <StatusLine text={status} />
      {data && data.length === 0 && <Empty>No schedules yet: create one below.</Empty>}
      {data && data.length > 0 && (
        <table>
          <ColumnHeads
            names={['Schedule', 'Cron', 'Destination', 'State', 'Last run', 'Next run', 'Actions']}
          />
          <tbody>
            {data.map((schedule) => (
              <tr key={schedule.scheduleId}>
                <td>
                  <a href={href('/messages', { scheduleId: schedule.scheduleId })} class="mono">
                    {schedule.scheduleId}
                  </a>
                  {schedule.error && <small class="block error-text">{schedule.error}</small>}
                </td>
                <td class="mono">{schedule.cron}</td>
                <td class="url">
                  <span class="method">{schedule.method}</span> {schedule.destination}
                  {schedule.queueName && <small class="block">queue {schedule.queueName}</small>}
                </td>
                <td>
                  <span class={`badge ${schedule.isPaused ? 'muted' : 'good'}`}>
                    {schedule.isPaused ? 'paused' : 'active'}
                  </span>
                </td>
                <td>{formatTime(schedule.lastScheduleTime)}</td>
                <td>{schedule.isPaused ? '–' : formatTime(schedule.nextScheduleTime)}</td>
                <td class="row-actions">
                  {schedule.isPaused ? (
                    <button
                      type="button"
                      aria-label={`Resume ${schedule.scheduleId}`}
                      onClick={() =>
                        act(async () => {
                          await api(path(schedule, '/resume'), { method: 'POST' });
                          return `Resumed ${schedule.scheduleId}.`;
                        })
                      }
                    >
                      Resume
                    </button>
                  ) : (
                    <button
                      type="button"
                      aria-label={`Pause ${schedule.scheduleId}`}
                      onClick={() =>
                        act(async () => {
                          await api(path(schedule, '/pause'), { method: 'POST' });
                          return `Paused ${schedule.scheduleId}.`;
                        })
                      }
                    >
                      Pause
                    </button>
                  )}
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Delete ${schedule.scheduleId}`}
                    onClick={() => {
                      if (!window.confirm(`Delete schedule ${schedule.scheduleId}?`)) return;
                      void act(async () => {
                        await api(path(schedule), { method: 'DELETE' });
                        return `Deleted ${schedule.scheduleId}.`;
                      });
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="builder" onSubmit={create} aria-labelledby="create-schedule-title">
        <h2 id="create-schedule-title">Create a schedule</h2>
        <div class="row">
          <Field label="Destination" hint="A URL, or the name of a URL group">
            <input {...bind('destination')} type="text" required />
          </Field>
          <Field label="Cron" hint="5 fields in UTC, or CRON_TZ=Zone first">
            <input {...bind('cron')} type="text" required class="mono" />
          </Field>
          <Field label="Schedule id" hint="Optional; reusing one replaces that schedule">
            <input {...bind('scheduleId')} type="text" />
          </Field>
        </div>
        <div class="row">
          <Field label="Method">
            <select {...bind('method')}>
              {['POST', 'GET', 'PUT', 'PATCH', 'DELETE'].map((method) => (
                <option key={method}>{method}</option>
              ))}
            </select>
          </Field>
          <Field label="Content-Type">
            <input {...bind('contentType')} type="text" />
          </Field>
          <Field label="Retries">
            <input {...bind('retries')} type="number" min={0} />
          </Field>
          <Field label="Delay" hint="e.g. 30s">
            <input {...bind('delay')} type="text" />
          </Field>
        </div>
        <Field label="Headers" hint="One Name: value a line, as in Publish">
          <textarea {...bind('headers')} rows={2} spellcheck={false} />
        </Field>
        <Field label="Body">
          <textarea {...bind('body')} rows={4} spellcheck={false} />
        </Field>
        <div class="actions">
          <button type="submit">Create schedule</button>
        </div>
      </form>
    </section>
  );
}
