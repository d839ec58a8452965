import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeQueueStoreContract } from './queue-store.contract';

useDynalite();

describeQueueStoreContract('DynamoQueueStore', async () => {
  const stores = await makeDynamoStores();
  return { queues: stores.queues, messages: stores.messages, cleanup: stores.cleanup };
});
