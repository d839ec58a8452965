import { describeDeadLetterStoreContract } from './dead-letter-store.contract';
import { makeSqliteStores } from './sqlite-stores';

describeDeadLetterStoreContract('SqliteDeadLetterStore', makeSqliteStores);
