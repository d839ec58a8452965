import { Client as QStashClient, QstashError } from '@upstash/qstash';
import { WorkflowNonRetryableError } from '@upstash/workflow';
import { DEV_TOKEN, eventually } from '../helpers/embedded-server';
import { TestReceiver } from '../helpers/receiver';
import { useWorkflowSuite } from '../helpers/workflow-app';

/** Fast retries, given once on the trigger: the whole run gets them. */
const FAST_RETRIES = { retries: 2, retryDelay: '50' };

describe('Upstash Workflow failures, DLQ and cancel on the embedded server', () => {
  const suite = useWorkflowSuite();

  it('retries a failing step with the retries set on the trigger, and runs later steps once', async () => {
    let attempts = 0;
    let later = 0;
    const app = await suite.startApp({
      '/flaky': {
        route: async (context) => {
          await context.run('flaky', () => {
            attempts += 1;
            if (attempts < 3) throw new Error(`attempt ${attempts} fails`);
          });
          await context.run('later', () => {
            later += 1;
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/flaky`,
      ...FAST_RETRIES,
    });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(attempts).toBe(3);
    expect(later).toBe(1);
    const retried = app.requests.filter((request) => request.status === 500);
    expect(retried.map((request) => request.headers['upstash-retried'])).toEqual(['0', '1']);
  });

  it('calls the failure function with the error and the run, and shows the run in the DLQ', async () => {
    const failures: unknown[] = [];
    const app = await suite.startApp({
      '/broken': {
        route: async (context) => {
          await context.run('fine', () => 'ok');
          await context.run('broken', () => {
            throw new Error('the database is down');
          });
        },
        failureFunction: async ({ context, failStatus, failResponse }) => {
          failures.push({
            failStatus,
            failResponse,
            runId: context.workflowRunId,
            payload: context.requestPayload,
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/broken`,
      body: { order: 7 },
      ...FAST_RETRIES,
    });
    const log = await suite.waitForRun(workflowRunId, 'RUN_FAILED');
    await eventually(() => expect(failures).toHaveLength(1));
    const dlq = await eventually(async () => {
      const listed = await suite.client.dlq.list({ filter: { workflowRunId } });
      expect(listed.messages[0]?.failureCallbackInfo?.state).toBe('CALLBACK_SUCCESS');
      return listed;
    });

    expect(failures[0]).toEqual({
      failStatus: 500,
      failResponse: 'the database is down',
      runId: workflowRunId,
      payload: { order: 7 },
    });
    expect(log.dlqId).toBeDefined();
    expect(log.steps.at(-1)).toMatchObject({ type: 'next' });
    expect(log.steps.at(-1)!.steps[0]).toMatchObject({ state: 'STEP_FAILED' });
    expect(dlq.messages).toHaveLength(1);
    expect(dlq.messages[0]).toMatchObject({
      dlqId: log.dlqId,
      workflowRunId,
      workflowUrl: `${app.url}/broken`,
      failureCallback: `${app.url}/broken`,
      responseStatus: 500,
    });
    const afterFunction = await suite.waitForRun(workflowRunId, 'RUN_FAILED');
    expect(afterFunction.failureFunction).toMatchObject({
      state: 'CALLBACK_SUCCESS',
      failStatus: 500,
    });
  });

  it('fails the run when a context.call never gets an answer, and hands it any answer it gets', async () => {
    const closed = await TestReceiver.start();
    const unreachable = `${closed.url}/gone`;
    await closed.stop();
    const failing = await TestReceiver.start(() => ({ status: 503, body: 'busy' }));
    const failures: number[] = [];
    let answered: unknown;
    const app = await suite.startApp({
      '/unreachable': {
        route: async (context) => {
          await context.call('call nobody', { url: unreachable, retries: 0 });
        },
        failureFunction: async ({ failStatus }) => {
          failures.push(failStatus);
        },
      },
      '/unlucky-call': {
        route: async (context) => {
          answered = await context.call('call a busy service', {
            url: failing.url,
            retries: 1,
            retryDelay: '50',
          });
        },
      },
    });
    try {
      const silent = await suite.client.trigger({ url: `${app.url}/unreachable`, retries: 0 });
      const busy = await suite.client.trigger({ url: `${app.url}/unlucky-call`, ...FAST_RETRIES });

      await suite.waitForRun(silent.workflowRunId, 'RUN_FAILED');
      await suite.waitForRun(busy.workflowRunId, 'RUN_SUCCESS');
      await eventually(() => expect(failures).toEqual([0]));
      expect(answered).toMatchObject({ status: 503, body: 'busy' });
      expect(failing.requests).toHaveLength(2);
    } finally {
      await failing.stop();
    }
  });

  it('stops at once on WorkflowNonRetryableError', async () => {
    let attempts = 0;
    const app = await suite.startApp({
      '/fatal': {
        route: async (context) => {
          await context.run('fatal', () => {
            attempts += 1;
            throw new WorkflowNonRetryableError('no point retrying');
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/fatal`, retries: 3 });
    await suite.waitForRun(workflowRunId, 'RUN_FAILED');

    expect(attempts).toBe(1);
  });

  /** A run whose second step fails while `broken` is true; counts how often each step ran. */
  async function breakableRun(path: string) {
    const state = { broken: true, first: 0, second: 0, third: 0 };
    const app = await suite.startApp({
      [path]: {
        route: async (context) => {
          await context.run('first', () => {
            state.first += 1;
          });
          await context.run('second', () => {
            state.second += 1;
            if (state.broken) throw new Error('broken');
          });
          await context.run('third', () => {
            state.third += 1;
          });
        },
      },
    });
    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}${path}`,
      retries: 0,
    });
    const failed = await suite.waitForRun(workflowRunId, 'RUN_FAILED');
    return { state, workflowRunId, dlqId: failed.dlqId! };
  }

  it('resumes a failed run from the DLQ in a new run, keeping the steps that succeeded', async () => {
    const { state, workflowRunId, dlqId } = await breakableRun('/resumable');
    state.broken = false;

    const resumed = await suite.client.dlq.resume(dlqId);
    const newRunId = resumed.workflowRuns[0]!.workflowRunId;
    await suite.waitForRun(newRunId, 'RUN_SUCCESS');

    expect(newRunId).not.toBe(workflowRunId);
    expect(state).toMatchObject({ first: 1, second: 2, third: 1 });
    expect((await suite.client.dlq.list({ filter: { workflowRunId } })).messages).toEqual([]);
  });

  it('restarts a failed run from the DLQ from its first step', async () => {
    const { state, dlqId } = await breakableRun('/restartable');
    state.broken = false;

    const restarted = await suite.client.dlq.restart([dlqId]);
    await suite.waitForRun(restarted.workflowRuns[0]!.workflowRunId, 'RUN_SUCCESS');

    expect(state).toMatchObject({ first: 2, second: 2, third: 1 });
  });

  it('retries a failure function that failed, and deletes the run from the DLQ', async () => {
    let failing = true;
    let handled = 0;
    const app = await suite.startApp({
      '/unlucky': {
        route: async (context) => {
          await context.run('boom', () => {
            throw new Error('boom');
          });
        },
        failureFunction: async () => {
          if (failing) throw new Error('the failure function fails too');
          handled += 1;
        },
      },
    });
    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/unlucky`,
      retries: 0,
    });
    const { dlqId } = await suite.waitForRun(workflowRunId, 'RUN_FAILED');
    await eventually(async () => {
      const [entry] = (await suite.client.dlq.list({ filter: { workflowRunId } })).messages;
      expect(entry?.failureCallbackInfo?.state).toBe('CALLBACK_FAIL');
    });

    failing = false;
    const retried = await suite.client.dlq.retryFailureFunction({ dlqId: dlqId! });
    await eventually(() => expect(handled).toBe(1));
    const deleted = await suite.client.dlq.delete(dlqId!);

    expect(retried).toMatchObject({ workflowRunId });
    expect(deleted).toEqual({ deleted: 1 });
    expect((await suite.client.dlq.list({ filter: { workflowRunId } })).messages).toEqual([]);
  });

  it('cancels a sleeping run: its sleep never ends and its steps are refused', async () => {
    let woke = false;
    const app = await suite.startApp({
      '/sleeper': {
        route: async (context) => {
          await context.run('before', () => 'ok');
          await context.sleep('long nap', 60);
          await context.run('after', () => {
            woke = true;
          });
        },
      },
    });
    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/sleeper` });
    // The sleep is the run's pending message once the first step has been delivered.
    await eventually(async () => {
      const [run] = (await suite.client.logs({ workflowRunId })).runs;
      expect(run?.steps.map((group) => group.type)).toEqual(['sequential', 'sequential', 'next']);
    });

    const cancelled = await suite.client.cancel(workflowRunId);
    const log = await suite.waitForRun(workflowRunId, 'RUN_CANCELED');

    expect(cancelled).toEqual({ cancelled: 1 });
    expect(log.workflowRunCompletedAt).toBeDefined();
    expect(woke).toBe(false);
    // A step published for the canceled run is refused as the SDK expects: a 400.
    const qstash = new QStashClient({ baseUrl: suite.server.url, token: DEV_TOKEN });
    const refused = await qstash
      .batch([
        {
          url: `${app.url}/sleeper`,
          body: '{}',
          headers: { 'Upstash-Workflow-RunId': workflowRunId, 'Upstash-Workflow-Init': 'false' },
        },
      ])
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QstashError);
    expect((refused as QstashError).status).toBe(400);
    expect(await suite.client.cancel(workflowRunId)).toEqual({ cancelled: 0 });
  });

  it('ends a run that cancels itself, and cancels runs in bulk by URL', async () => {
    let after = false;
    const app = await suite.startApp({
      '/quitter': {
        route: async (context) => {
          await context.run('decide', () => 'quit');
          await context.cancel();
          after = true;
        },
      },
      '/bulk/sleeper': {
        route: async (context) => {
          await context.sleep('nap', 60);
        },
      },
    });

    const quitter = await suite.client.trigger({ url: `${app.url}/quitter` });
    const sleepers = await suite.client.trigger([
      { url: `${app.url}/bulk/sleeper` },
      { url: `${app.url}/bulk/sleeper` },
    ]);
    await suite.waitForRun(quitter.workflowRunId, 'RUN_CANCELED');
    const bulk = await suite.client.cancel({
      filter: { workflowUrlStartingWith: `${app.url}/bulk/` },
    });

    expect(after).toBe(false);
    expect(bulk).toEqual({ cancelled: 2 });
    for (const run of sleepers) await suite.waitForRun(run.workflowRunId, 'RUN_CANCELED');
  });
});
