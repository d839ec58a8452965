import { Client as QStashClient } from '@upstash/qstash';
import { DEV_TOKEN, eventually } from '../helpers/embedded-server';
import { TestReceiver } from '../helpers/receiver';
import { useWorkflowSuite } from '../helpers/workflow-app';

/** Counts how often each step's code ran, to check each ran exactly once. */
function counter() {
  const counts = new Map<string, number>();
  return {
    counts,
    ran(name: string) {
      counts.set(name, (counts.get(name) ?? 0) + 1);
    },
  };
}

describe('Upstash Workflow runs on the embedded server', () => {
  const suite = useWorkflowSuite();

  it('runs steps in sequence, each once, handing each the results before it', async () => {
    const steps = counter();
    const app = await suite.startApp({
      '/sequence': {
        route: async (context) => {
          const input = context.requestPayload as { n: number };
          const doubled = await context.run('double', () => {
            steps.ran('double');
            return input.n * 2;
          });
          const plusOne = await context.run('plus one', async () => {
            steps.ran('plus one');
            return doubled + 1;
          });
          return { result: plusOne, runId: context.workflowRunId };
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/sequence`,
      body: { n: 20 },
    });
    const log = await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(Object.fromEntries(steps.counts)).toEqual({ double: 1, 'plus one': 1 });
    expect(JSON.parse(log.workflowRunResponse!)).toEqual({ result: 41, runId: workflowRunId });
    expect(log.workflowUrl).toBe(`${app.url}/sequence`);
    expect(log.workflowRunCompletedAt).toBeGreaterThanOrEqual(log.workflowRunCreatedAt);
    const sequential = log.steps.map((group) => group.steps.map((step) => step.stepName));
    expect(sequential).toEqual([['init'], ['double'], ['plus one']]);
    expect(log.steps[1]!.steps[0]).toMatchObject({
      stepType: 'Run',
      out: '40',
      state: 'STEP_SUCCESS',
    });
    // Every delivery carried the run id and its creation time, and every one was signed and
    // accepted by the SDK's Receiver.
    expect(app.requests.every((request) => request.status === 200)).toBe(true);
    expect(
      new Set(app.requests.map((request) => request.headers['upstash-workflow-runid'])),
    ).toEqual(new Set([workflowRunId]));
    expect(app.requests[0]!.headers['upstash-workflow-createdat']).toBe(
      String(log.workflowRunCreatedAt),
    );
  });

  it('starts a run when its endpoint is called through a plain publish', async () => {
    let ranWith: unknown;
    const app = await suite.startApp({
      '/plain': {
        route: async (context) => {
          ranWith = await context.run('echo', () => context.requestPayload);
        },
      },
    });

    await new QStashClient({ baseUrl: suite.server.url, token: DEV_TOKEN }).publishJSON({
      url: `${app.url}/plain`,
      body: { hello: 'world' },
    });

    await eventually(() => expect(ranWith).toEqual({ hello: 'world' }));
  });

  it('starts one run for a run id however often it is triggered', async () => {
    const steps = counter();
    const app = await suite.startApp({
      '/once': { route: async (context) => context.run('work', () => steps.ran('work')) },
    });

    const first = await suite.client.trigger({ url: `${app.url}/once`, workflowRunId: 'twice' });
    const second = await suite.client.trigger({ url: `${app.url}/once`, workflowRunId: 'twice' });
    await suite.waitForRun('wfr_twice', 'RUN_SUCCESS');

    expect([first.workflowRunId, second.workflowRunId]).toEqual(['wfr_twice', 'wfr_twice']);
    expect(steps.counts.get('work')).toBe(1);
  });

  it('keeps the trigger labels on every step, and finds the run in the logs by label', async () => {
    const seen: string[][] = [];
    const app = await suite.startApp({
      '/labelled': {
        route: async (context) => {
          await context.run('first', () => seen.push([...context.labels]));
          await context.run('second', () => seen.push([...context.labels]));
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/labelled`,
      label: ['billing', 'eu'],
    });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');
    const { runs } = await suite.client.logs({ filter: { label: 'eu' } });
    const { runs: none } = await suite.client.logs({ filter: { label: 'us', workflowRunId } });

    expect(seen).toEqual([
      ['billing', 'eu'],
      ['billing', 'eu'],
    ]);
    expect(runs.map((run) => [run.workflowRunId, run.labels])).toEqual([
      [workflowRunId, ['billing', 'eu']],
    ]);
    expect(none).toEqual([]);
  });

  it("runs every step of a run under the trigger's flow-control key", async () => {
    const key = `workflow-${Date.now()}`;
    const app = await suite.startApp({
      '/limited': {
        route: async (context) => {
          await context.run('first', () => 1);
          await context.run('second', () => 2);
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({
      url: `${app.url}/limited`,
      flowControl: { key, parallelism: 1 },
    });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');
    const qstash = new QStashClient({ baseUrl: suite.server.url, token: DEV_TOKEN });
    const { logs } = await qstash.logs({ filter: { flowControlKey: key, state: 'DELIVERED' } });

    // The trigger and each step's message: every delivery of the run.
    expect(logs).toHaveLength(app.requests.length);
    expect(app.requests.length).toBeGreaterThanOrEqual(3);
    for (const log of logs) expect(log).toMatchObject({ flowControlKey: key, parallelism: 1 });
  });

  it('sleeps for and until the time asked, to the second', async () => {
    const times: Record<string, number> = {};
    const app = await suite.startApp({
      '/sleepy': {
        route: async (context) => {
          const sleepUntil = await context.run('plan', () => {
            times.start = Date.now();
            return Math.ceil(Date.now() / 1000) + 2;
          });
          await context.sleep('nap', 1);
          await context.run('after nap', () => {
            times.afterNap = Date.now();
          });
          await context.sleepUntil('until', sleepUntil);
          await context.run('after until', () => {
            times.afterUntil = Date.now();
            times.until = sleepUntil * 1000;
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/sleepy` });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(times.afterNap! - times.start!).toBeGreaterThanOrEqual(1000);
    expect(times.afterUntil).toBeGreaterThanOrEqual(times.until!);
  });

  it('runs parallel steps once each and joins them once', async () => {
    const steps = counter();
    let joined: unknown;
    const app = await suite.startApp({
      '/parallel': {
        route: async (context) => {
          const results = await Promise.all(
            ['a', 'b', 'c'].map((name) =>
              context.run(`branch ${name}`, () => {
                steps.ran(name);
                return name.toUpperCase();
              }),
            ),
          );
          await context.run('join', () => {
            steps.ran('join');
            joined = results;
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/parallel` });
    const log = await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(joined).toEqual(['A', 'B', 'C']);
    expect(Object.fromEntries(steps.counts)).toEqual({ a: 1, b: 1, c: 1, join: 1 });
    const parallel = log.steps.find((group) => group.type === 'parallel');
    expect(parallel?.steps.map((step) => step.stepName).sort()).toEqual([
      'branch a',
      'branch b',
      'branch c',
    ]);
  });

  it('calls a third party and hands the workflow its response', async () => {
    const thirdParty = await TestReceiver.start(() => ({
      status: 201,
      headers: { 'content-type': 'application/json', 'x-answer': 'yes' },
      body: '{"ok":true}',
    }));
    try {
      let response: unknown;
      const app = await suite.startApp({
        '/caller': {
          route: async (context) => {
            const called = await context.call('ask', {
              url: `${thirdParty.url}/api?q=1`,
              method: 'POST',
              body: '{"question":42}',
              headers: { 'content-type': 'application/json', 'x-custom': 'c' },
            });
            response = await context.run('use answer', () => called);
          },
        },
      });

      const { workflowRunId } = await suite.client.trigger({
        url: `${app.url}/caller`,
        retries: 2,
      });
      await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

      expect(response).toMatchObject({ status: 201, body: { ok: true } });
      expect((response as { header: Record<string, string[]> }).header['X-Answer']).toEqual([
        'yes',
      ]);
      const [call] = thirdParty.requests;
      expect(thirdParty.requests).toHaveLength(1);
      expect(call).toMatchObject({ method: 'POST', path: '/api?q=1' });
      expect(call!.body.toString()).toBe('{"question":42}');
      expect(call!.headers['content-type']).toBe('application/json');
      expect(call!.headers['x-custom']).toBe('c');
      // The third party sees none of the workflow's own headers.
      expect(
        Object.keys(call!.headers).filter((name) => name.startsWith('upstash-workflow')),
      ).toEqual([]);
    } finally {
      await thirdParty.stop();
    }
  });

  it('invokes another workflow and resumes with what it returned', async () => {
    const steps = counter();
    let invoked: unknown;
    const child = {
      routeFunction: async () => undefined,
      options: {},
      workflowId: 'child',
    };
    const app = await suite.startApp({
      '/wf/parent': {
        route: async (context) => {
          invoked = await context.invoke('invoke child', {
            workflow: child,
            body: { name: 'sqstash' },
          });
          await context.run('after invoke', () => steps.ran('after invoke'));
        },
      },
      '/wf/child': {
        route: async (context) => {
          const name = (context.requestPayload as { name: string }).name;
          return context.run('greet', () => {
            steps.ran('greet');
            return `hello ${name}`;
          });
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/wf/parent` });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(invoked).toEqual({ body: 'hello sqstash', isFailed: false, isCanceled: false });
    expect(Object.fromEntries(steps.counts)).toEqual({ greet: 1, 'after invoke': 1 });
    const { runs } = await suite.client.logs({ workflowUrl: `${app.url}/wf/child` });
    expect(runs[0]).toMatchObject({
      workflowState: 'RUN_SUCCESS',
      invoker: { workflowRunId, workflowUrl: `${app.url}/wf/parent` },
    });
  });
});

describe('Upstash Workflow with the step history fetched by the SDK (LazyFetch)', () => {
  // No history fits in a delivery: every step's delivery is empty and the SDK fetches the
  // history from GET /v2/workflows/runs/{id}.
  const suite = useWorkflowSuite({ SQSTASH_WORKFLOW_INLINE_STEPS_BYTES: '0' });

  it('runs sequential and parallel steps from fetched histories', async () => {
    const steps = counter();
    const app = await suite.startApp({
      '/lazy': {
        route: async (context) => {
          const first = await context.run('first', () => {
            steps.ran('first');
            return 1;
          });
          const [a, b] = await Promise.all([
            context.run('a', () => {
              steps.ran('a');
              return first + 1;
            }),
            context.run('b', () => {
              steps.ran('b');
              return first + 2;
            }),
          ]);
          return a + b;
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/lazy` });
    const log = await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(log.workflowRunResponse).toBe('5');
    expect(Object.fromEntries(steps.counts)).toEqual({ first: 1, a: 1, b: 1 });
    const stepDeliveries = app.requests.slice(1);
    expect(stepDeliveries.length).toBeGreaterThan(0);
    expect(stepDeliveries.every((request) => request.body === '')).toBe(true);
  });
});
