import { DEV_TOKEN } from '../helpers/embedded-server';
import type { RawAnswer } from '../helpers/raw-api';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import { useWorkflowSuite } from '../helpers/workflow-app';

const AUTH = { Authorization: `Bearer ${DEV_TOKEN}` };

function expectError(answer: RawAnswer, status: number, fragment: string): void {
  expect(answer.status).toBe(status);
  expect((answer.json as { error: string }).error).toContain(fragment);
}

describe('Upstash Workflow endpoints: authentication and bad input', () => {
  const suite = useWorkflowSuite();
  const call = async (method: string, path: string, init: RequestInit = {}) =>
    readAnswer(
      await fetch(`${suite.server.url}${path}`, {
        method,
        ...init,
        headers: { ...AUTH, ...(init.headers as Record<string, string>) },
      }),
    );

  it.each([
    ['GET', '/v2/workflows/runs/wfr_x'],
    ['DELETE', '/v2/workflows/runs/wfr_x?cancel=true'],
    ['DELETE', '/v2/workflows/runs?workflowRunIds=wfr_x'],
    ['GET', '/v2/workflows/events'],
    ['POST', '/v2/wait/e'],
    ['POST', '/v2/notify/e'],
    ['GET', '/v2/waiters/e'],
    ['POST', '/v2/workflows/dlq/resume?dlqIds=1-0'],
    ['DELETE', '/v2/workflows/dlq?dlqIds=1-0'],
  ])('refuses %s %s without the token', async (method, path) => {
    const answer = await readAnswer(await fetch(`${suite.server.url}${path}`, { method }));

    expect(answer.status).toBe(401);
  });

  it('answers 404 for the history of a run it does not have', async () => {
    expectError(await call('GET', '/v2/workflows/runs/wfr_nope'), 404, 'wfr_nope');
  });

  it('refuses a step for a run that does not exist, and a malformed run id or call type', async () => {
    const step = (headers: Record<string, string>) =>
      publishRaw(suite.server.url, 'https://app.example.com/wf', { headers, body: '{}' });

    expectError(await step({ 'Upstash-Workflow-RunId': 'wfr_nope' }), 400, 'does not exist');
    expectError(
      await step({ 'Upstash-Workflow-RunId': 'wfr bad/id' }),
      400,
      'Upstash-Workflow-RunId',
    );
    expectError(
      await step({
        'Upstash-Workflow-RunId': 'wfr_a',
        'Upstash-Workflow-Init': 'true',
        'Upstash-Workflow-CallType': 'sideways',
      }),
      400,
      'Upstash-Workflow-CallType',
    );
    expectError(
      await step({
        'Upstash-Workflow-RunId': 'wfr_b',
        'Upstash-Workflow-Init': 'true',
        'Upstash-Workflow-Invoke': 'true',
      }),
      400,
      'Upstash-Workflow-Invoke',
    );
  });

  it('fails a whole batch holding a step for a run that does not exist', async () => {
    const answer = await call('POST', '/v2/batch', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          destination: 'https://app.example.com/wf',
          headers: { 'Upstash-Workflow-RunId': 'wfr_gone' },
          body: '{}',
        },
      ]),
    });

    expectError(answer, 400, 'wfr_gone');
  });

  it('refuses a wait that is not JSON, names no run, or belongs to no run', async () => {
    const waitBody = JSON.stringify({ url: 'https://app.example.com/wf', timeout: '1d', step: {} });

    expectError(await call('POST', '/v2/wait/e', { body: 'not json' }), 400, 'not valid JSON');
    expectError(await call('POST', '/v2/wait/e', { body: '{"url": 1}' }), 400, 'wait request');
    expectError(
      await call('POST', '/v2/wait/e', { body: waitBody }),
      400,
      'Upstash-Workflow-RunId',
    );
    expectError(
      await call('POST', '/v2/wait/e', {
        body: waitBody,
        headers: { 'Upstash-Workflow-RunId': 'wfr_nope' },
      }),
      400,
      'does not exist',
    );
  });

  it('refuses a filter it does not know on a bulk action, and a bad state or count', async () => {
    expectError(
      await call('DELETE', '/v2/workflows/runs?hostname=x'),
      400,
      'unknown query parameter "hostname"',
    );
    expectError(await call('GET', '/v2/workflows/events?state=DONE'), 400, 'RUN_SUCCESS');
    expectError(await call('GET', '/v2/workflows/events?count=0'), 400, 'count');
    expectError(
      await call('DELETE', '/v2/workflows/dlq?color=red'),
      400,
      'unknown query parameter',
    );
    expectError(await call('DELETE', '/v2/workflows/runs/wfr_x?cancel=maybe'), 400, 'cancel');
  });

  it('answers an empty list for a notify nobody waits for, and 404 for DLQ ids it does not have', async () => {
    expect(await call('POST', '/v2/notify/nobody', { body: 'x' })).toMatchObject({
      status: 200,
      json: [],
    });
    expectError(await call('POST', '/v2/workflows/dlq/resume?dlqIds=1-0'), 404, '"1-0"');
  });
});
