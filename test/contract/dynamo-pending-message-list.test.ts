import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describePendingMessageListContract } from './pending-message-list.contract';

useDynalite();

describePendingMessageListContract('DynamoPendingMessageList', () => makeDynamoStores());
