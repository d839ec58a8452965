import { describeFlowControlStoreContract } from './flow-control-store.contract';
import { makeSqliteStores } from './sqlite-stores';

describeFlowControlStoreContract('SqliteFlowControl', makeSqliteStores);
