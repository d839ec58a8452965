import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeEventLogContract } from './event-log.contract';

useDynalite();

describeEventLogContract('DynamoEventLog', () => makeDynamoStores());
