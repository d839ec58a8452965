import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteWorkflowRunStore } from '../../lambdas/adapters/embedded/sqlite-workflow-run-store';
import { makeMessage, T0 } from '../helpers/messages';
import { describeWorkflowRunStoreContract } from './workflow-run-store.contract';

describeWorkflowRunStoreContract('SqliteWorkflowRunStore', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-workflow-'));
  const db = openDatabase(dataDir, 'NORMAL');
  return {
    store: new SqliteWorkflowRunStore(db),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('SQLite migration 2 (workflow runs)', () => {
  it('upgrades a database of schema 1 with pending messages, losing none of them', async () => {
    // Prepare: a schema-1 database holding a pending message (today's schema minus migration 2).
    const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-migrate-'));
    try {
      const old = openDatabase(dataDir, 'NORMAL');
      old.exec(`DROP TABLE workflow_runs; DROP TABLE workflow_run_messages;
        DROP TABLE workflow_waiters; DROP TABLE workflow_notifications;`);
      old.pragma('user_version = 1');
      await new SqliteMessageStore(old).insertMessage(
        makeMessage({ messageId: 'msg_kept' }),
        undefined,
        T0,
      );
      old.close();

      // Act
      const db = openDatabase(dataDir, 'NORMAL');

      // Assess
      expect(db.pragma('user_version', { simple: true })).toBe(2);
      expect(await new SqliteMessageStore(db).getPendingMessage('msg_kept')).toMatchObject({
        messageId: 'msg_kept',
      });
      const runs = new SqliteWorkflowRunStore(db);
      expect(await runs.getRun('wfr_none')).toBeUndefined();
      db.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
