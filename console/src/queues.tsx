import { useState } from 'preact/hooks';
import { ApiError, api } from './api';
import { formatTime } from './format';
import { href } from './router';
import { ColumnHeads, Empty, ErrorNotice, StatusLine, useActions, useLoad } from './ui';

type Queue = {
  name: string;
  createdAt: number;
  updatedAt: number;
  parallelism: number;
  paused: boolean;
  lag: number;
};

type FlowControlKey = {
  flowControlKey: string;
  waitListSize?: number;
  parallelismMax?: number;
  parallelismCount?: number;
  rateMax?: number;
  rateCount?: number;
  ratePeriod?: number;
  isPaused?: boolean;
};

/**
 * Statuses of a server that does not serve flow control: 404 from one that predates it, 501 from
 * a runtime that does not enforce it.
 */
const NOT_SERVED = new Set([404, 501]);

/** Flow-control keys, or the status that said this server does not serve flow control. */
async function loadFlowControl(): Promise<
  { keys: FlowControlKey[] } | { notServed: number; reason: string }
> {
  try {
    return { keys: await api<FlowControlKey[]>('/v2/flowControl') };
  } catch (error) {
    if (error instanceof ApiError && NOT_SERVED.has(error.status)) {
      return { notServed: error.status, reason: error.message };
    }
    throw error;
  }
}

function ParallelismEditor({
  queue,
  onSave,
}: {
  queue: Queue;
  onSave: (parallelism: number) => void;
}) {
  const [value, setValue] = useState(String(queue.parallelism));
  return (
    <form
      class="inline"
      onSubmit={(event) => {
        event.preventDefault();
        onSave(Number(value));
      }}
    >
      <input
        type="number"
        min={1}
        value={value}
        aria-label={`Parallelism of ${queue.name}`}
        onInput={(event) => setValue(event.currentTarget.value)}
      />
      <button type="submit">Set</button>
    </form>
  );
}

export function QueuesView() {
  const queues = useLoad(() => api<Queue[]>('/v2/queues'), []);
  const flow = useLoad(loadFlowControl, []);
  const keys = flow.data && 'keys' in flow.data ? flow.data.keys : undefined;
  const notServed = flow.data && 'notServed' in flow.data ? flow.data : undefined;
  const queueActions = useActions(queues.reload);
  const flowActions = useActions(flow.reload);
  const queuePath = (name: string, action: string) =>
    `/v2/queues/${encodeURIComponent(name)}/${action}`;

  return (
    <section aria-labelledby="queues-title">
      <h1 id="queues-title">Queues</h1>
      <ErrorNotice error={queues.error} />
      <ErrorNotice error={queueActions.error} />
      <StatusLine text={queueActions.status} />
      {queues.data && queues.data.length === 0 && (
        <Empty>No FIFO queues. Enqueueing into a queue (Publish, Queue field) creates it.</Empty>
      )}
      {queues.data && queues.data.length > 0 && (
        <table>
          <ColumnHeads names={['Queue', 'Lag', 'Parallelism', 'State', 'Updated', 'Actions']} />
          <tbody>
            {queues.data.map((queue) => (
              <tr key={queue.name}>
                <td>
                  <a href={href('/messages', { queueName: queue.name })}>{queue.name}</a>
                </td>
                <td class="mono">{queue.lag}</td>
                <td>
                  <ParallelismEditor
                    key={`${queue.name}:${queue.parallelism}`}
                    queue={queue}
                    onSave={(parallelism) =>
                      queueActions.act(async () => {
                        await api('/v2/queues', {
                          method: 'POST',
                          json: { queueName: queue.name, parallelism, paused: queue.paused },
                        });
                        return `${queue.name} now runs ${parallelism} at a time.`;
                      })
                    }
                  />
                </td>
                <td>
                  <span class={`badge ${queue.paused ? 'muted' : 'good'}`}>
                    {queue.paused ? 'paused' : 'running'}
                  </span>
                </td>
                <td>{formatTime(queue.updatedAt)}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    aria-label={`${queue.paused ? 'Resume' : 'Pause'} queue ${queue.name}`}
                    onClick={() =>
                      queueActions.act(async () => {
                        await api(queuePath(queue.name, queue.paused ? 'resume' : 'pause'), {
                          method: 'POST',
                        });
                        return `${queue.paused ? 'Resumed' : 'Paused'} ${queue.name}.`;
                      })
                    }
                  >
                    {queue.paused ? 'Resume' : 'Pause'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2 id="flow-title">Flow-control keys</h2>
      <ErrorNotice error={flow.error} />
      <ErrorNotice error={flowActions.error} />
      <StatusLine text={flowActions.status} />
      {notServed && (
        <Empty>
          This server does not serve flow control (GET /v2/flowControl answered{' '}
          {notServed.notServed}: {notServed.reason}).
        </Empty>
      )}
      {keys && keys.length === 0 && (
        <Empty>No flow-control keys: messages published with one create it.</Empty>
      )}
      {keys && keys.length > 0 && (
        <table aria-labelledby="flow-title">
          <ColumnHeads names={['Key', 'Waiting', 'Parallelism', 'Rate', 'State', 'Actions']} />
          <tbody>
            {keys.map((key) => (
              <tr key={key.flowControlKey}>
                <td class="mono">
                  <a href={href('/messages', { flowControlKey: key.flowControlKey })}>
                    {key.flowControlKey}
                  </a>
                </td>
                <td class="mono">{key.waitListSize ?? 0}</td>
                <td class="mono">
                  {key.parallelismCount ?? 0} / {key.parallelismMax || '∞'}
                </td>
                <td class="mono">
                  {key.rateCount ?? 0} / {key.rateMax || '∞'}
                  {key.ratePeriod ? ` per ${key.ratePeriod} s` : ''}
                </td>
                <td>
                  <span class={`badge ${key.isPaused ? 'muted' : 'good'}`}>
                    {key.isPaused ? 'paused' : 'running'}
                  </span>
                </td>
                <td class="row-actions">
                  <button
                    type="button"
                    aria-label={`${key.isPaused ? 'Resume' : 'Pause'} flow-control key ${key.flowControlKey}`}
                    onClick={() =>
                      flowActions.act(async () => {
                        const action = key.isPaused ? 'resume' : 'pause';
                        await api(
                          `/v2/flowControl/${encodeURIComponent(key.flowControlKey)}/${action}`,
                          {
                            method: 'POST',
                          },
                        );
                        return `${key.isPaused ? 'Resumed' : 'Paused'} ${key.flowControlKey}.`;
                      })
                    }
                  >
                    {key.isPaused ? 'Resume' : 'Pause'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
