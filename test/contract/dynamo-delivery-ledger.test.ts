import { describeDeliveryLedgerContract } from './delivery-ledger.contract';
import { makeDynamoStores, useDynalite } from './dynamo-stores';

useDynalite();

describeDeliveryLedgerContract('DynamoDeliveryLedger', () => makeDynamoStores());
