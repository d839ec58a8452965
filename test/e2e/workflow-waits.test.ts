import type { WaitEventOptions } from '@upstash/workflow';
import { eventually } from '../helpers/embedded-server';
import { useWorkflowSuite } from '../helpers/workflow-app';

type WaitResult = { eventData: unknown; timeout: boolean };

describe('Upstash Workflow waits on the embedded server', () => {
  const suite = useWorkflowSuite();

  /** An app whose run waits for `eventId` (timing out after `timeout`), then records the result. */
  async function waitingApp(eventId: string, timeout: WaitEventOptions['timeout']) {
    const results: WaitResult[] = [];
    let afterWait = 0;
    const app = await suite.startApp({
      '/waiter': {
        route: async (context) => {
          const result = await context.waitForEvent('wait', eventId, { timeout });
          await context.run('after wait', () => {
            afterWait += 1;
            results.push(result);
          });
        },
      },
    });
    return { app, results, afterWaitCount: () => afterWait };
  }

  it('resumes a waiting run with the data of a notify, once', async () => {
    const { app, results, afterWaitCount } = await waitingApp('order-1-paid', '1d');
    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/waiter` });
    const waiters = await eventually(async () => {
      const found = await suite.client.getWaiters({ eventId: 'order-1-paid' });
      expect(found).toHaveLength(1);
      return found;
    });

    const notified = await suite.client.notify({
      eventId: 'order-1-paid',
      eventData: { amount: 12 },
    });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(waiters[0]).toMatchObject({ url: `${app.url}/waiter` });
    expect(waiters[0]!.deadline).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(notified).toHaveLength(1);
    expect(notified[0]).toMatchObject({ waiter: { url: `${app.url}/waiter` } });
    expect(notified[0]!.messageId).toMatch(/^msg_/);
    expect(results).toEqual([{ eventData: { amount: 12 }, timeout: false }]);
    expect(afterWaitCount()).toBe(1);
    // The wait is resolved: a second notify finds nobody, and the timeout never fires.
    expect(await suite.client.notify({ eventId: 'order-1-paid', eventData: 'late' })).toEqual([]);
    expect(await suite.client.getWaiters({ eventId: 'order-1-paid' })).toEqual([]);
  });

  it('resumes a waiting run when its wait times out', async () => {
    const { app, results } = await waitingApp('never-comes', 1);
    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/waiter` });

    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(results).toEqual([{ eventData: undefined, timeout: true }]);
    expect(await suite.client.getWaiters({ eventId: 'never-comes' })).toEqual([]);
  });

  it('keeps a notify sent for a run before it waits, and resumes the wait with it', async () => {
    const results: WaitResult[] = [];
    let gate!: () => void;
    const opened = new Promise<void>((resolve) => {
      gate = resolve;
    });
    // The run's first step holds it until the notify has been sent.
    const slowApp = await suite.startApp({
      '/slow-waiter': {
        route: async (context) => {
          await context.run('before wait', () => opened);
          const result = await context.waitForEvent('wait', 'early-event', { timeout: '1d' });
          await context.run('after wait', () => {
            results.push(result);
          });
        },
      },
    });
    const { workflowRunId } = await suite.client.trigger({ url: `${slowApp.url}/slow-waiter` });

    const notified = await suite.client.notify({
      eventId: 'early-event',
      eventData: 'kept',
      workflowRunId,
    });
    gate();
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(notified).toEqual([]);
    expect(results).toEqual([{ eventData: 'kept', timeout: false }]);
  });

  it('notifies every run waiting for an event, and context.notify does too', async () => {
    const { app, results } = await waitingApp('broadcast', '1d');
    const runs = await suite.client.trigger([
      { url: `${app.url}/waiter` },
      { url: `${app.url}/waiter` },
    ]);
    await eventually(async () =>
      expect(await suite.client.getWaiters({ eventId: 'broadcast' })).toHaveLength(2),
    );
    let notifiedCount = -1;
    const notifier = await suite.startApp({
      '/notifier': {
        route: async (context) => {
          const { notifyResponse } = await context.notify('tell', 'broadcast', { go: true });
          notifiedCount = notifyResponse.length;
        },
      },
    });

    const { workflowRunId } = await suite.client.trigger({ url: `${notifier.url}/notifier` });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');
    for (const run of runs) await suite.waitForRun(run.workflowRunId, 'RUN_SUCCESS');

    expect(notifiedCount).toBe(2);
    expect(results).toEqual([
      { eventData: { go: true }, timeout: false },
      { eventData: { go: true }, timeout: false },
    ]);
  });

  it('resumes a waitForWebhook with the request its webhook URL received, without the token', async () => {
    let webhookUrl: string | undefined;
    let received: { method: string; body: string; custom: string | null } | undefined;
    const app = await suite.startApp({
      '/hooked': {
        route: async (context) => {
          const webhook = await context.createWebhook('hook');
          await context.run('hand out', () => {
            webhookUrl = webhook.webhookUrl;
          });
          const { request, timeout } = await context.waitForWebhook('wait hook', webhook, '1d');
          received = await context.run('read', async () => ({
            method: request!.method,
            body: await request!.text(),
            custom: request!.headers.get('x-custom'),
            timeout,
          }));
        },
      },
    });
    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/hooked` });
    const url = await eventually(() => {
      expect(webhookUrl).toBeDefined();
      return webhookUrl!;
    });
    const unknownUser = url.replace('/defaultUser/', '/someoneElse/');

    const answered = await fetch(url, {
      method: 'PUT',
      headers: { 'x-custom': 'from a third party' },
      body: 'payload',
    });
    await suite.waitForRun(workflowRunId, 'RUN_SUCCESS');

    expect(
      url.startsWith(`${suite.server.url}/v2/workflows/hooks/defaultUser/${workflowRunId}/evt_`),
    ).toBe(true);
    expect(answered.status).toBe(200);
    expect(received).toEqual({
      method: 'PUT',
      body: 'payload',
      custom: 'from a third party',
      timeout: false,
    });
    expect((await fetch(unknownUser, { method: 'POST' })).status).toBe(404);
  });

  it('never lets a webhook URL resolve a waitForEvent', async () => {
    const { app } = await waitingApp('guessable-event', '1d');
    const { workflowRunId } = await suite.client.trigger({ url: `${app.url}/waiter` });
    await eventually(async () =>
      expect(await suite.client.getWaiters({ eventId: 'guessable-event' })).toHaveLength(1),
    );

    const hook = `${suite.server.url}/v2/workflows/hooks/defaultUser/${workflowRunId}/guessable-event`;
    await fetch(hook, { method: 'POST', body: 'forged' });

    expect(await suite.client.getWaiters({ eventId: 'guessable-event' })).toHaveLength(1);
    await suite.client.cancel(workflowRunId);
  });
});
