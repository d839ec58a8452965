import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteWorkflowRunStore } from '../../lambdas/adapters/embedded/sqlite-workflow-run-store';
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
