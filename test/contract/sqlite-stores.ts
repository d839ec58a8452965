import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteDeadLetterStore } from '../../lambdas/adapters/embedded/sqlite-dead-letter-store';
import { SqliteEventLog } from '../../lambdas/adapters/embedded/sqlite-event-log';
import { SqliteFlowControl } from '../../lambdas/adapters/embedded/sqlite-flow-control';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqlitePendingMessageList } from '../../lambdas/adapters/embedded/sqlite-pending-message-list';
import type { FlowControlStoresUnderTest } from './flow-control-store.contract';

const LEASE_MS = 60_000;

/** The embedded runtime's stores on a fresh SQLite file, for the contract suites. */
export async function makeSqliteStores(): Promise<
  FlowControlStoresUnderTest & {
    messages: SqliteMessageStore;
    flowControl: SqliteFlowControl;
    db: Database.Database;
  }
> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-stores-'));
  const db = openDatabase(dataDir, 'NORMAL');
  const flowControl = new SqliteFlowControl(db, undefined, () => {});
  const messages = new SqliteMessageStore(db, () => {}, flowControl);
  return {
    db,
    messages,
    flowControl,
    deadLetters: new SqliteDeadLetterStore(db, messages),
    events: new SqliteEventLog(db),
    pending: new SqlitePendingMessageList(db),
    startAttempt: async (messageId, nowMs) => {
      // Leases every due message; the suites start one attempt at a time.
      const claimed = messages.claimDue(nowMs, 1_000, nowMs + LEASE_MS);
      if (!claimed.some((claim) => claim.message.messageId === messageId)) {
        throw new Error(`${messageId} was not due at ${nowMs}`);
      }
    },
    abandonAttempt: async (messageId) => messages.release(messageId),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
