import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeMessageCancelContract } from './message-cancel.contract';

useDynalite();

describeMessageCancelContract('DynamoMessageStore', () => makeDynamoStores());
