import { makeMessage, T0 } from '../helpers/messages';
import { deliveredSettlement } from '../helpers/settlements';
import type { DynamoStores } from './dynamo-stores';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeQueueStoreContract } from './queue-store.contract';

useDynalite();

describeQueueStoreContract('DynamoQueueStore', async () => {
  const stores = await makeDynamoStores();
  return { queues: stores.queues, messages: stores.messages, cleanup: stores.cleanup };
});

describe('DynamoQueueStore on DynamoDB', () => {
  let stores: DynamoStores;

  beforeEach(async () => {
    stores = await makeDynamoStores();
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  it('lets a message in flight finish outside its deleted queue, and cancels the waiting ones', async () => {
    await stores.queues.ensureQueue('q1', T0);
    const first = makeMessage({ messageId: 'msg_1', queueName: 'q1' });
    await stores.messages.insertMessage(first, undefined, T0);
    await stores.messages.insertMessage(
      makeMessage({ messageId: 'msg_2', queueName: 'q1' }),
      undefined,
      T0,
    );
    await stores.startAttempt('msg_1', T0);

    expect(await stores.queues.deleteQueue('q1', T0 + 1)).toBe(true);

    expect(await stores.messages.getPendingMessage('msg_1')).toBeDefined();
    expect(await stores.messages.getMessage('msg_2')).toBeUndefined();
    await stores.queues.ensureQueue('q1', T0 + 2);
    expect((await stores.queues.getQueue('q1'))?.lag).toBe(0);
    await stores.messages.settleAttempt(deliveredSettlement(first, T0 + 3));
    expect(await stores.messages.getMessage('msg_1')).toBeUndefined();
  });
});
