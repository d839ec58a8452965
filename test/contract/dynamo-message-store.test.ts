import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeMessageStoreContract } from './message-store.contract';

useDynalite();

describeMessageStoreContract('DynamoMessageStore', async () => {
  const stores = await makeDynamoStores();
  return { store: stores.messages, cleanup: stores.cleanup };
});
