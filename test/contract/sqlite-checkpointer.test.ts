import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCheckpointer } from '../../lambdas/adapters/embedded/sqlite-checkpointer';
import { DATABASE_FILE, openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { eventually } from '../helpers/embedded-server';
import { makeMessage, T0 } from '../helpers/messages';

describe('SqliteCheckpointer', () => {
  it('copies what commits append to the write-ahead log into the database file, on its own thread', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-checkpointer-'));
    const db = openDatabase(dataDir, 'NORMAL');
    const errors: string[] = [];
    const checkpointer = new SqliteCheckpointer({
      dataDir,
      intervalMs: 10,
      onError: (error) => errors.push(error),
    });
    try {
      const store = new SqliteMessageStore(db);
      const fileBytes = () => statSync(join(dataDir, DATABASE_FILE)).size;
      const before = fileBytes();
      const body = new Uint8Array(2_000);
      for (let index = 0; index < 500; index += 1) {
        await store.insertMessage(makeMessage({ messageId: `msg_${index}`, body }), undefined, T0);
      }

      // Only a checkpoint moves pages from the log into the database file, and the commits'
      // own backstop (at 16 MiB of log) is far off: the file grows because the thread copied
      // the log, however often the log started over meanwhile (it does once fully copied).
      await eventually(() => {
        const { logFrames, checkpointed } = checkpointer.last;
        expect(checkpointed).toBe(logFrames);
        expect(fileBytes()).toBeGreaterThan(before + 500 * body.length);
      });
      expect(errors).toEqual([]);
    } finally {
      await checkpointer.stop();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
