import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteUrlGroupStore } from '../../lambdas/adapters/embedded/sqlite-url-group-store';
import { T0 } from '../helpers/messages';
import { describeUrlGroupStoreContract } from './url-group-store.contract';

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sqstash-url-groups-'));
}

describeUrlGroupStoreContract('SqliteUrlGroupStore', async () => {
  const dataDir = tempDataDir();
  const db = openDatabase(dataDir, 'NORMAL');
  return {
    store: new SqliteUrlGroupStore(db),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('SqliteUrlGroupStore', () => {
  it('keeps groups and endpoints across close and reopen', async () => {
    const dataDir = tempDataDir();
    try {
      const first = openDatabase(dataDir, 'NORMAL');
      await new SqliteUrlGroupStore(first).upsertEndpoints(
        'orders',
        [{ url: 'https://a.example.com', name: 'a' }, { url: 'https://b.example.com' }],
        T0,
      );
      first.close();

      const second = openDatabase(dataDir, 'NORMAL');
      const group = await new SqliteUrlGroupStore(second).getGroup('orders');
      second.close();

      expect(group).toEqual({
        name: 'orders',
        createdAt: T0,
        updatedAt: T0,
        endpoints: [{ url: 'https://a.example.com', name: 'a' }, { url: 'https://b.example.com' }],
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('leaves no endpoint rows behind when a group is deleted', async () => {
    const dataDir = tempDataDir();
    const db = openDatabase(dataDir, 'NORMAL');
    try {
      const store = new SqliteUrlGroupStore(db);
      await store.upsertEndpoints('orders', [{ url: 'https://a.example.com' }], T0);
      await store.upsertEndpoints('billing', [{ url: 'https://b.example.com' }], T0);
      await store.deleteGroup('orders');
      await store.removeEndpoints('billing', [{ url: 'https://b.example.com' }], T0);

      expect(db.prepare('SELECT COUNT(*) AS n FROM url_group_endpoints').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM url_groups').get()).toEqual({ n: 0 });
    } finally {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
