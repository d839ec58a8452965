import { describePendingMessageListContract } from './pending-message-list.contract';
import { makeSqliteStores } from './sqlite-stores';

describePendingMessageListContract('SqlitePendingMessageList', makeSqliteStores);
