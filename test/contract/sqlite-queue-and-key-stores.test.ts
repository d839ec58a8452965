import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteQueueStore } from '../../lambdas/adapters/embedded/sqlite-queue-store';
import { SqliteSigningKeyStore } from '../../lambdas/adapters/embedded/sqlite-signing-key-store';
import { describeQueueStoreContract } from './queue-store.contract';
import { describeSigningKeyStoreContract } from './signing-key-store.contract';

function openTemp(): { dataDir: string; db: Database.Database } {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-store-'));
  return { dataDir, db: openDatabase(dataDir, 'NORMAL') };
}

describeQueueStoreContract('SqliteQueueStore', async () => {
  const { dataDir, db } = openTemp();
  return {
    queues: new SqliteQueueStore(db, () => {}),
    messages: new SqliteMessageStore(db),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describeSigningKeyStoreContract('SqliteSigningKeyStore', async () => {
  let { dataDir, db } = openTemp();
  return {
    store: new SqliteSigningKeyStore(db),
    reopen: async () => {
      db.close();
      db = openDatabase(dataDir, 'NORMAL');
      return new SqliteSigningKeyStore(db);
    },
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
