import { fixedClock, T0 } from '../helpers/messages';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeFlowControlStoreContract } from './flow-control-store.contract';

useDynalite();

describeFlowControlStoreContract('DynamoFlowControl', async () => {
  // The delivery function starts an attempt at the time it takes the entry: the clock is set
  // to the time the contract starts it at.
  const clock = fixedClock(T0);
  const stores = await makeDynamoStores({ clock });
  return {
    ...stores,
    startAttempt: async (messageId, nowMs) => {
      clock.set(nowMs);
      await stores.startAttempt(messageId, nowMs);
    },
  };
});
