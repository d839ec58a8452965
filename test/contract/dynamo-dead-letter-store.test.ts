import { describeDeadLetterStoreContract } from './dead-letter-store.contract';
import { makeDynamoStores, useDynalite } from './dynamo-stores';

useDynalite();

describeDeadLetterStoreContract('DynamoDeadLetterStore', () => makeDynamoStores());
