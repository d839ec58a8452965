import type { TargetedSubmitEvent } from 'preact';
import { api } from './api';
import { formatTime } from './format';
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

type UrlGroup = {
  name: string;
  createdAt: number;
  updatedAt: number;
  endpoints: { name?: string; url: string }[];
};

export function UrlGroupsView() {
  const { data, error, reload } = useLoad(() => api<UrlGroup[]>('/v2/topics'), []);
  const { draft, bind, setDraft } = useDraft({ group: '', url: '', name: '' });
  const { status, error: actionError, act } = useActions(reload);
  const endpoints = (group: string) => `/v2/topics/${encodeURIComponent(group)}/endpoints`;
  const add = (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const group = draft.group?.trim() ?? '';
    const endpoint = {
      url: draft.url?.trim() ?? '',
      ...(draft.name?.trim() ? { name: draft.name.trim() } : {}),
    };
    void act(async () => {
      await api(endpoints(group), { method: 'POST', json: { endpoints: [endpoint] } });
      setDraft({ group, url: '', name: '' });
      return `Added ${endpoint.url} to ${group}.`;
    });
  };

  return (
    <section aria-labelledby="groups-title">
      <h1 id="groups-title">URL groups</h1>
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      <StatusLine text={status} />
      {data && data.length === 0 && (
        <Empty>No URL groups. Adding an endpoint below creates its group.</Empty>
      )}
      {data?.map((group) => (
        <section key={group.name} class="card" aria-labelledby={`group-${group.name}`}>
          <h2 id={`group-${group.name}`}>{group.name}</h2>
          <p class="muted">
            {group.endpoints.length} {group.endpoints.length === 1 ? 'endpoint' : 'endpoints'},
            updated {formatTime(group.updatedAt)}
          </p>
          <table class="compact">
            <ColumnHeads names={['Endpoint', 'Name', 'Actions']} />
            <tbody>
              {group.endpoints.map((endpoint) => (
                <tr key={endpoint.url}>
                  <td class="url">{endpoint.url}</td>
                  <td>{endpoint.name ?? '–'}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Remove ${endpoint.url} from ${group.name}`}
                      onClick={() =>
                        act(async () => {
                          await api(endpoints(group.name), {
                            method: 'DELETE',
                            json: { endpoints: [{ url: endpoint.url }] },
                          });
                          return `Removed ${endpoint.url} from ${group.name}.`;
                        })
                      }
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
      <form class="builder" onSubmit={add} aria-labelledby="add-endpoint-title">
        <h2 id="add-endpoint-title">Add an endpoint</h2>
        <div class="row">
          <Field label="Group">
            <input {...bind('group')} type="text" required />
          </Field>
          <Field label="Endpoint URL">
            <input {...bind('url')} type="url" required />
          </Field>
          <Field label="Endpoint name" hint="Optional">
            <input {...bind('name')} type="text" />
          </Field>
        </div>
        <div class="actions">
          <button type="submit">Add endpoint</button>
        </div>
      </form>
    </section>
  );
}
