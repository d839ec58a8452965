import { describeEventLogContract } from './event-log.contract';
import { makeSqliteStores } from './sqlite-stores';

describeEventLogContract('SqliteEventLog', makeSqliteStores);
