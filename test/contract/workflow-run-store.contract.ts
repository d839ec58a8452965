import { BadRequestError } from '../../lambdas/core/errors';
import type { WorkflowRun, WorkflowWaiter } from '../../lambdas/core/workflow/workflow-run';
import type { NewWorkflowStep, WorkflowRunStore } from '../../lambdas/ports/workflow-run-store';

export type WorkflowRunStoreFixture = { store: WorkflowRunStore; cleanup(): Promise<void> };

const T0 = Date.UTC(2030, 0, 1);
const encoder = new TextEncoder();

export function makeRun(runId: string, overrides: Partial<WorkflowRun> = {}): WorkflowRun {
  return {
    runId,
    url: 'https://app.example.com/api/workflow',
    createdAt: T0,
    state: 'RUN_STARTED',
    labels: [],
    configHeaders: { 'upstash-retries': '2' },
    triggerHeader: { 'Content-Type': ['application/json'] },
    triggerMessageId: `msg_${runId}_0`,
    ...overrides,
  };
}

function step(messageId: string, body = `body of ${messageId}`): NewWorkflowStep {
  return { messageId, callType: 'step', body: encoder.encode(body), createdAt: T0 };
}

function makeWaiter(waiterId: string, overrides: Partial<WorkflowWaiter> = {}): WorkflowWaiter {
  return {
    waiterId,
    runId: 'wfr_a',
    eventId: 'order-paid',
    url: 'https://app.example.com/api/workflow',
    headers: { 'upstash-workflow-runid': 'wfr_a' },
    step: '{"stepId":2,"stepName":"wait","stepType":"Wait","concurrent":1}',
    deadline: T0 + 60_000,
    timeoutUrl: 'https://app.example.com/api/workflow',
    timeoutHeaders: { 'Upstash-Workflow-Runid': ['wfr_a'] },
    createdAt: T0,
    ...overrides,
  };
}

/**
 * The WorkflowRunStore port's behaviour, run against every adapter (SQLite now; a DynamoDB
 * adapter runs the same cases). Bodies are small, as a DynamoDB item needs them.
 */
export function describeWorkflowRunStoreContract(
  name: string,
  makeFixture: () => Promise<WorkflowRunStoreFixture>,
): void {
  describe(`WorkflowRunStore contract: ${name}`, () => {
    let fixture: WorkflowRunStoreFixture;
    let store: WorkflowRunStore;
    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('runs', () => {
      it('opens a run once: a second createRun with the same id changes nothing', async () => {
        const run = makeRun('wfr_a', { labels: ['l1'], callerIp: '10.0.0.1' });

        expect(await store.createRun(run, [step('msg_0', 'initial')])).toBe(true);
        expect(
          await store.createRun(makeRun('wfr_a', { url: 'https://other.example.com' }), [
            step('msg_x'),
          ]),
        ).toBe(false);

        expect(await store.getRun('wfr_a')).toEqual(run);
        const steps = await store.listSteps('wfr_a');
        expect(steps.map((s) => [s.seq, s.messageId])).toEqual([[0, 'msg_0']]);
        expect(Buffer.from(steps[0]!.body).toString()).toBe('initial');
      });

      it('resolves undefined for a run it does not have', async () => {
        expect(await store.getRun('wfr_missing')).toBeUndefined();
        expect(await store.listSteps('wfr_missing')).toEqual([]);
      });

      it('ends a started run once, keeping its result', async () => {
        await store.createRun(makeRun('wfr_a'), [step('msg_0')]);

        const ended = await store.endRun('wfr_a', {
          state: 'RUN_SUCCESS',
          at: T0 + 5,
          result: '"done"',
        });

        expect(ended).toMatchObject({
          state: 'RUN_SUCCESS',
          completedAt: T0 + 5,
          result: '"done"',
        });
        expect(await store.getRun('wfr_a')).toEqual(ended);
        expect(await store.endRun('wfr_a', { state: 'RUN_CANCELED', at: T0 + 6 })).toBeUndefined();
        expect((await store.getRun('wfr_a'))?.state).toBe('RUN_SUCCESS');
        expect(await store.endRun('wfr_missing', { state: 'RUN_SUCCESS', at: T0 })).toBeUndefined();
      });

      it('marks only a started run failed, takes a retried failure callback, and lets a failed run be canceled', async () => {
        await store.createRun(makeRun('wfr_a'), [step('msg_0')]);
        await store.createRun(makeRun('wfr_b'), [step('msg_1')]);
        await store.endRun('wfr_b', { state: 'RUN_SUCCESS', at: T0 + 1 });

        await store.markRunFailed('wfr_a', {
          dlqId: '123-0',
          failureCallbackMessageId: 'msg_f',
          at: T0 + 2,
        });
        await store.markRunFailed('wfr_a', { dlqId: '999-0', at: T0 + 3 });
        await store.markRunFailed('wfr_a', { dlqId: '123-0', at: T0 + 3 });
        await store.markRunFailed('wfr_b', { dlqId: '456-0', at: T0 + 4 });

        expect(await store.getRun('wfr_a')).toMatchObject({
          state: 'RUN_FAILED',
          dlqId: '123-0',
          failureCallbackMessageId: 'msg_f',
          completedAt: T0 + 2,
        });
        expect(await store.getRun('wfr_b')).toMatchObject({ state: 'RUN_SUCCESS' });
        expect((await store.getRun('wfr_b'))?.dlqId).toBeUndefined();
        await store.markRunFailed('wfr_a', {
          dlqId: '123-0',
          failureCallbackMessageId: 'msg_f2',
          at: T0 + 6,
        });
        expect(await store.getRun('wfr_a')).toMatchObject({
          dlqId: '123-0',
          failureCallbackMessageId: 'msg_f2',
          completedAt: T0 + 2,
        });
        expect(await store.endRun('wfr_a', { state: 'RUN_CANCELED', at: T0 + 5 })).toMatchObject({
          state: 'RUN_CANCELED',
          dlqId: '123-0',
        });
      });
    });

    describe('history', () => {
      it('appends steps in order, keeping a message that is already in it at its place', async () => {
        await store.createRun(makeRun('wfr_a'), [step('msg_0')]);

        expect(await store.appendStep('wfr_a', step('msg_1'))).toBe(1);
        expect(await store.appendStep('wfr_a', step('msg_2'))).toBe(2);
        expect(await store.appendStep('wfr_a', step('msg_1', 'changed'))).toBe(1);

        const steps = await store.listSteps('wfr_a');
        expect(steps.map((s) => s.messageId)).toEqual(['msg_0', 'msg_1', 'msg_2']);
        expect(Buffer.from(steps[1]!.body).toString()).toBe('body of msg_1');
        expect((await store.listSteps('wfr_a', 1)).map((s) => s.seq)).toEqual([0, 1]);
      });

      it('keeps bodies byte for byte and each step its call type', async () => {
        await store.createRun(makeRun('wfr_a'), [step('msg_0')]);
        const bytes = new Uint8Array([0, 255, 10, 13, 128]);

        await store.appendStep('wfr_a', {
          messageId: 'msg_1',
          callType: 'toCallback',
          body: bytes,
          createdAt: T0,
        });

        const [, appended] = await store.listSteps('wfr_a');
        expect(appended?.callType).toBe('toCallback');
        expect([...appended!.body]).toEqual([...bytes]);
      });

      it('lists the messages recorded for a run once each, in order, with or without steps', async () => {
        await store.createRun(makeRun('wfr_a'), [step('msg_0')]);

        await store.addMessage('wfr_a', 'msg_1', T0 + 1);
        await store.addMessage('wfr_a', 'msg_2', T0 + 2);
        await store.addMessage('wfr_a', 'msg_1', T0 + 3);
        await store.appendStep('wfr_a', step('msg_1'));
        await store.addMessage('wfr_b', 'msg_9', T0 + 1);

        expect(await store.listMessageIds('wfr_a')).toEqual(['msg_0', 'msg_1', 'msg_2']);
        expect(await store.listMessageIds('wfr_b')).toEqual(['msg_9']);
        // A recorded message is not part of the history until it is appended.
        expect((await store.listSteps('wfr_a')).map((s) => s.messageId)).toEqual([
          'msg_0',
          'msg_1',
        ]);
      });
    });

    describe('listRuns', () => {
      beforeEach(async () => {
        await store.createRun(makeRun('wfr_1', { createdAt: T0 + 1, labels: ['red'] }), []);
        await store.createRun(
          makeRun('wfr_2', { createdAt: T0 + 2, url: 'https://app.example.com/api/other' }),
          [],
        );
        await store.createRun(
          makeRun('wfr_3', { createdAt: T0 + 3, labels: ['blue', 'red'], callerIp: '1.2.3.4' }),
          [],
        );
        await store.createRun(makeRun('wfr_4', { createdAt: T0 + 3 }), []);
        await store.markRunFailed('wfr_2', { dlqId: '1-0', at: T0 + 9 });
        await store.endRun('wfr_4', { state: 'RUN_SUCCESS', at: T0 + 9 });
      });

      const ids = async (filter: Parameters<WorkflowRunStore['listRuns']>[0]['filter']) =>
        (await store.listRuns({ filter, count: 10 })).items.map((run) => run.runId);

      it('lists newest first, by creation time then run id', async () => {
        expect(await ids({})).toEqual(['wfr_4', 'wfr_3', 'wfr_2', 'wfr_1']);
      });

      it('filters on each field, OR within one and AND across them', async () => {
        expect(await ids({ runIds: ['wfr_1', 'wfr_3'] })).toEqual(['wfr_3', 'wfr_1']);
        expect(await ids({ urls: ['https://app.example.com/api/other'] })).toEqual(['wfr_2']);
        expect(await ids({ urlPrefixes: ['https://app.example.com/api/w'] })).toEqual([
          'wfr_4',
          'wfr_3',
          'wfr_1',
        ]);
        expect(await ids({ states: ['RUN_FAILED', 'RUN_SUCCESS'] })).toEqual(['wfr_4', 'wfr_2']);
        expect(await ids({ labels: ['red'] })).toEqual(['wfr_3', 'wfr_1']);
        expect(await ids({ labels: ['red'], runIds: ['wfr_1'] })).toEqual(['wfr_1']);
        expect(await ids({ callerIps: ['1.2.3.4'] })).toEqual(['wfr_3']);
        expect(await ids({ createdAt: T0 + 3 })).toEqual(['wfr_4', 'wfr_3']);
        expect(await ids({ fromDate: T0 + 2, toDate: T0 + 2 })).toEqual(['wfr_2']);
        expect(await ids({ failed: true })).toEqual(['wfr_2']);
        expect(await ids({ runIds: [] })).toEqual([]);
      });

      it('pages with a cursor that never skips or repeats a run', async () => {
        const first = await store.listRuns({ filter: {}, count: 3 });
        const second = await store.listRuns({ filter: {}, count: 3, cursor: first.cursor });

        expect(first.items.map((run) => run.runId)).toEqual(['wfr_4', 'wfr_3', 'wfr_2']);
        expect(second.items.map((run) => run.runId)).toEqual(['wfr_1']);
        expect(second.cursor).toBeUndefined();
      });

      it('refuses a cursor it did not make', async () => {
        await expect(
          store.listRuns({ filter: {}, count: 3, cursor: 'not-a-cursor' }),
        ).rejects.toBeInstanceOf(BadRequestError);
      });
    });

    describe('waits', () => {
      it('lists unresolved waiters of an event, in any run or in one', async () => {
        await store.putWaiter(makeWaiter('msg_w1'));
        await store.putWaiter(makeWaiter('msg_w2', { runId: 'wfr_b', createdAt: T0 + 1 }));
        await store.putWaiter(makeWaiter('msg_w3', { eventId: 'other' }));

        expect((await store.listWaiters('order-paid')).map((w) => w.waiterId)).toEqual([
          'msg_w1',
          'msg_w2',
        ]);
        expect((await store.listWaiters('order-paid', 'wfr_b')).map((w) => w.waiterId)).toEqual([
          'msg_w2',
        ]);
        expect(await store.getWaiter('msg_w1')).toEqual(makeWaiter('msg_w1'));
        expect(await store.getWaiter('msg_missing')).toBeUndefined();
      });

      it('lets exactly one message resolve a waiter', async () => {
        await store.putWaiter(makeWaiter('msg_w1'));

        expect(await store.claimWaiter('msg_w1', 'msg_notify')).toBe('claimed');
        expect(await store.claimWaiter('msg_w1', 'msg_notify')).toBe('claimed');
        expect(await store.claimWaiter('msg_w1', 'msg_w1')).toBe('taken');
        expect(await store.claimWaiter('msg_nope', 'msg_notify')).toBe('missing');

        expect(await store.listWaiters('order-paid')).toEqual([]);
        expect(await store.getWaiter('msg_w1')).toEqual(
          makeWaiter('msg_w1', { claimedBy: 'msg_notify' }),
        );
      });

      it('keeps notifications for a later wait, oldest first, each taken once', async () => {
        await store.putNotification({
          runId: 'wfr_a',
          eventId: 'e',
          data: encoder.encode('first'),
          createdAt: T0,
        });
        await store.putNotification({
          runId: 'wfr_a',
          eventId: 'e',
          data: encoder.encode('second'),
          createdAt: T0 + 1,
        });

        const first = await store.takeNotification('wfr_a', 'e', false);
        const second = await store.takeNotification('wfr_a', 'e', false);

        expect(Buffer.from(first!.data).toString()).toBe('first');
        expect(second).toMatchObject({ runId: 'wfr_a', eventId: 'e', createdAt: T0 + 1 });
        expect(await store.takeNotification('wfr_a', 'e', false)).toBeUndefined();
        expect(await store.takeNotification('wfr_b', 'e', false)).toBeUndefined();
      });

      it('keeps a webhook call apart from notifies, for a webhook wait only', async () => {
        await store.putNotification({
          runId: 'wfr_a',
          eventId: 'e',
          data: encoder.encode('hook'),
          createdAt: T0,
          webhook: true,
        });

        expect(await store.takeNotification('wfr_a', 'e', false)).toBeUndefined();
        expect(await store.takeNotification('wfr_a', 'e', true)).toMatchObject({ webhook: true });
        expect(await store.takeNotification('wfr_a', 'e', true)).toBeUndefined();
      });

      it("forgets a run's waiters and notifications, and no other run's", async () => {
        await store.putWaiter(makeWaiter('msg_w1'));
        await store.putWaiter(makeWaiter('msg_w2', { runId: 'wfr_b' }));
        await store.putNotification({
          runId: 'wfr_a',
          eventId: 'e',
          data: encoder.encode('x'),
          createdAt: T0,
        });

        await store.deleteWaits('wfr_a');

        expect(await store.getWaiter('msg_w1')).toBeUndefined();
        expect(await store.getWaiter('msg_w2')).toBeDefined();
        expect(await store.takeNotification('wfr_a', 'e', false)).toBeUndefined();
      });
    });
  });
}
