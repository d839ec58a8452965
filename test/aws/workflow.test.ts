import type { Server } from 'node:http';
import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { Client as WorkflowClient, type WorkflowRunLog } from '@upstash/workflow';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  fakeTheDate,
  resetAwsMocks,
  scanTable,
  startFrontDoor,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';
import type { WorkflowEndpoint } from '../helpers/workflow-app';
import { WorkflowApp } from '../helpers/workflow-app';

const { scheduler } = awsMocks;
const HOUR_MS = 3_600_000;
const RETENTION_S = 14 * 86_400;

/**
 * Upstash Workflow on the AWS runtime: real `@upstash/workflow` 1.3.3 `serve()` endpoints on
 * node:http (signatures checked with the deployed keys), the SDK's clients through an HTTP front
 * door to the API function, the delivery and dead-letter functions fed by the fake SQS, the run
 * registry on dynalite.
 */
describe('Upstash Workflow through the AWS functions (in-process, fake SQS)', () => {
  let dynalite: Dynalite;
  let frontDoor: { url: string; server: Server };
  let thirdParty: TestReceiver;
  let client: WorkflowClient;
  let queue: FakeSqs;
  const apps: WorkflowApp[] = [];
  const drain = (options: { until?: () => boolean; idleMs?: number } = {}) =>
    queue.drain({ delivery: deliveryHandler, deadLetter: deadLetterHandler, context, ...options });
  const startApp = async (endpoints: Record<string, WorkflowEndpoint>) => {
    const app = await WorkflowApp.start(frontDoor.url, endpoints, DEPLOYED.keys, DEPLOYED.token);
    apps.push(app);
    return app;
  };
  const runLog = async (workflowRunId: string): Promise<WorkflowRunLog | undefined> =>
    (await client.logs({ workflowRunId })).runs[0];

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash-workflow');
    frontDoor = await startFrontDoor();
    thirdParty = await TestReceiver.start();
    client = new WorkflowClient({ baseUrl: frontDoor.url, token: DEPLOYED.token });
  });
  afterAll(async () => {
    await new Promise((resolve) => frontDoor.server.close(resolve));
    await thirdParty.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    queue = resetAwsMocks();
  });
  afterEach(async () => {
    jest.useRealTimers();
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  it('runs steps, parallel steps, a sleep of an hour, a call and a wait resumed by notify, each step once', async () => {
    fakeTheDate();
    thirdParty.respondWith(() => ({ status: 201, body: '{"price":7}' }));
    const runs = { first: 0, left: 0, right: 0, last: 0 };
    const seen: unknown[] = [];
    const app = await startApp({
      '/order': {
        route: async (context) => {
          const { orderId } = context.requestPayload as { orderId: number };
          const total = await context.run('price', () => {
            runs.first += 1;
            return orderId * 10;
          });
          const [left, right] = await Promise.all([
            context.run('left', () => {
              runs.left += 1;
              return 'L';
            }),
            context.run('right', () => {
              runs.right += 1;
              return 'R';
            }),
          ]);
          await context.sleep('cool down', '1h');
          const quote = await context.call('quote', {
            url: `${thirdParty.url}/quote?order=${orderId}`,
            method: 'POST',
            body: JSON.stringify({ total }),
          });
          const paid = await context.waitForEvent('payment', `paid-${orderId}`, {
            timeout: '1d',
          });
          await context.run('ship', () => {
            runs.last += 1;
            seen.push({ total, left, right, quote, paid });
          });
          return { shipped: orderId };
        },
      },
    });

    const { workflowRunId } = await client.trigger({
      url: `${app.url}/order`,
      body: { orderId: 42 },
    });
    await drain();

    // Asleep: the step after the sleep waits for an EventBridge schedule, not in SQS.
    expect(runs).toEqual({ first: 1, left: 1, right: 1, last: 0 });
    const wakes = scheduler.commandCalls(CreateScheduleCommand);
    expect(wakes).toHaveLength(1);
    expect(queue.queues.delivery).toEqual([]);
    expect((await runLog(workflowRunId))?.workflowState).toBe('RUN_STARTED');

    // An hour later the schedule fires; the call goes out, and the run parks at its wait.
    jest.setSystemTime(Date.now() + HOUR_MS + 60_000);
    queue.put(wakes[0]!.args[0].input.Target!.Input!);
    await drain();
    expect(thirdParty.requests).toHaveLength(1);
    expect(thirdParty.requests[0]).toMatchObject({ method: 'POST', path: '/quote?order=42' });
    expect(JSON.parse(thirdParty.requests[0]!.body.toString())).toEqual({ total: 420 });
    const waiters = await client.getWaiters({ eventId: 'paid-42' });
    expect(waiters).toHaveLength(1);
    expect(waiters[0]).toMatchObject({ url: `${app.url}/order` });

    const notified = await client.notify({ eventId: 'paid-42', eventData: { amount: 420 } });
    expect(notified).toHaveLength(1);
    await drain();

    const log = await runLog(workflowRunId);
    expect(log).toMatchObject({
      workflowState: 'RUN_SUCCESS',
      workflowRunResponse: JSON.stringify({ shipped: 42 }),
    });
    expect(runs).toEqual({ first: 1, left: 1, right: 1, last: 1 });
    expect(seen).toEqual([
      {
        total: 420,
        left: 'L',
        right: 'R',
        quote: expect.objectContaining({ status: 201, body: '{"price":7}' }),
        paid: { eventData: { amount: 420 }, timeout: false },
      },
    ]);
    expect(thirdParty.requests).toHaveLength(1);
    expect(await client.getWaiters({ eventId: 'paid-42' })).toEqual([]);
    // Every delivery the app answered passed the SDK's signature check.
    expect(app.requests.length).toBeGreaterThan(6);
    expect(app.requests.every((request) => request.status === 200)).toBe(true);

    // The run has ended: all its items are kept for the retention from now, no longer.
    const items = await scanRun(dynalite, workflowRunId);
    expect(items.length).toBeGreaterThan(8);
    const endTtl = Math.ceil(Date.now() / 1000) + RETENTION_S;
    for (const item of items) {
      expect(Number(item.ttl?.N)).toBeGreaterThan(endTtl - 120);
      expect(Number(item.ttl?.N)).toBeLessThanOrEqual(endTtl);
    }
  });

  it('resumes a wait at its timeout, and a late notify finds nobody', async () => {
    let after = 0;
    const results: unknown[] = [];
    const app = await startApp({
      '/waiter': {
        route: async (context) => {
          const result = await context.waitForEvent('wait', 'never-comes', { timeout: 1 });
          await context.run('after', () => {
            after += 1;
            results.push(result);
          });
        },
      },
    });

    const { workflowRunId } = await client.trigger({ url: `${app.url}/waiter` });
    await drain({ idleMs: 2_000 });

    expect((await runLog(workflowRunId))?.workflowState).toBe('RUN_SUCCESS');
    expect(after).toBe(1);
    expect(results).toEqual([{ eventData: undefined, timeout: true }]);
    expect(await client.notify({ eventId: 'never-comes', eventData: 'late' })).toEqual([]);
  });

  it('cancels a sleeping run: its wake then delivers nothing', async () => {
    let after = 0;
    const app = await startApp({
      '/sleeper': {
        route: async (context) => {
          await context.sleep('long nap', '2h');
          await context.run('after', () => {
            after += 1;
          });
        },
      },
    });
    const { workflowRunId } = await client.trigger({ url: `${app.url}/sleeper` });
    await drain();
    const [wake] = scheduler.commandCalls(CreateScheduleCommand);

    await client.cancel({ ids: workflowRunId });
    queue.put(wake!.args[0].input.Target!.Input!);
    await drain();

    expect((await runLog(workflowRunId))?.workflowState).toBe('RUN_CANCELED');
    expect(after).toBe(0);
  });
});

/** Every item of the run's partition, and those naming it (its index entry). */
async function scanRun(dynalite: Dynalite, runId: string) {
  return (await scanTable(dynalite)).filter(
    (item) => item.pk?.S === `WFR#${runId}` || item.runId?.S === runId,
  );
}
