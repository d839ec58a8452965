import type { DynamoStores } from './dynamo-stores';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeWorkflowRunStoreContract, makeRun } from './workflow-run-store.contract';

useDynalite();

describeWorkflowRunStoreContract('DynamoWorkflowRunStore', async () => {
  const stores = await makeDynamoStores();
  return { store: stores.workflowRuns, cleanup: stores.cleanup };
});

const T0 = Date.UTC(2030, 0, 1);
const run = (runId: string) => makeRun(runId, { configHeaders: {}, triggerHeader: {} });

/** Bytes no two parts of which are alike, so a part out of place shows. */
function bytes(length: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) buffer[index] = (index * 7) % 251;
  return buffer;
}

describe('DynamoWorkflowRunStore on DynamoDB', () => {
  let stores: DynamoStores;
  beforeEach(async () => {
    stores = await makeDynamoStores();
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  it('gives steps appended at once (parallel steps) places of their own, each once', async () => {
    const store = stores.workflowRuns;
    await store.createRun(run('wfr_p'), [
      { messageId: 'msg_0', callType: 'step', body: Buffer.from('{}'), createdAt: T0 },
    ]);
    const ids = Array.from({ length: 6 }, (_, index) => `msg_${index + 1}`);

    // Each message twice at once, as a duplicate SQS delivery would append it.
    const seqs = await Promise.all(
      [...ids, ...ids].map((messageId) =>
        store.appendStep('wfr_p', {
          messageId,
          callType: 'step',
          body: Buffer.from(messageId),
          createdAt: T0,
        }),
      ),
    );

    expect(seqs.slice(0, 6)).toEqual(seqs.slice(6));
    expect([...seqs.slice(0, 6)].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const steps = await store.listSteps('wfr_p');
    expect(steps.map((step) => step.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(steps.map((step) => step.messageId)).size).toBe(7);
  });

  it('keeps a step body, a run result and a notification larger than an item, whole', async () => {
    const store = stores.workflowRuns;
    const initial = bytes(900_000);
    await store.createRun(run('wfr_big'), [
      { messageId: 'msg_0', callType: 'step', body: initial, createdAt: T0 },
    ]);
    const step = bytes(500_000).reverse();
    await store.appendStep('wfr_big', {
      messageId: 'msg_1',
      callType: 'step',
      body: step,
      createdAt: T0,
    });
    const result = 'r'.repeat(700_000);
    await store.endRun('wfr_big', { state: 'RUN_SUCCESS', at: T0 + 1, result });
    const data = bytes(600_000);
    await store.putNotification({ runId: 'wfr_big', eventId: 'e', data, createdAt: T0 });

    const steps = await store.listSteps('wfr_big');
    // Buffer#equals: jest's toEqual walks every byte.
    expect(Buffer.from(steps[0]!.body).equals(initial)).toBe(true);
    expect(Buffer.from(steps[1]!.body).equals(step)).toBe(true);
    expect((await store.getRun('wfr_big'))?.result).toBe(result);
    const taken = await store.takeNotification('wfr_big', 'e', false);
    expect(Buffer.from(taken!.data).equals(data)).toBe(true);
    expect(await store.takeNotification('wfr_big', 'e', false)).toBeUndefined();
  });
});
