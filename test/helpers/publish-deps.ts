import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteQueueStore } from '../../lambdas/adapters/embedded/sqlite-queue-store';
import { SqliteUrlGroupStore } from '../../lambdas/adapters/embedded/sqlite-url-group-store';
import type { CoreConfig } from '../../lambdas/core/config';
import type { PublishDeps } from '../../lambdas/core/publish';
import type { DeliveryQueue } from '../../lambdas/ports/message-store';
import { fixedClock, sequentialIds, T0 } from './messages';

/** A DeliveryQueue that only records what it was handed. */
export function recordingQueue(): DeliveryQueue & {
  enqueued: { messageId: string; dueAt: number }[];
} {
  const enqueued: { messageId: string; dueAt: number }[] = [];
  return {
    enqueued,
    async enqueue(messageId, dueAt) {
      enqueued.push({ messageId, dueAt });
    },
  };
}

export type PublishFixture = {
  deps: PublishDeps;
  db: Database.Database;
  store: SqliteMessageStore;
  urlGroups: SqliteUrlGroupStore;
  queue: ReturnType<typeof recordingQueue>;
  clock: ReturnType<typeof fixedClock>;
  /** Rows in the messages table. */
  storedCount(): number;
  cleanup(): void;
};

/**
 * The core's publish dependencies on a fresh SQLite file: real stores, a fixed clock at T0,
 * sequential ids (`msg_1`, `msg_2`, …) and a queue that records what it was handed.
 */
export function publishFixture(config: CoreConfig): PublishFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-publish-'));
  const db = openDatabase(dataDir, 'NORMAL');
  const store = new SqliteMessageStore(db);
  const urlGroups = new SqliteUrlGroupStore(db);
  const queue = recordingQueue();
  const clock = fixedClock(T0);
  const deps: PublishDeps = {
    store,
    queue,
    clock,
    ids: sequentialIds(),
    config,
    queues: new SqliteQueueStore(db, () => {}),
    urlGroups,
  };
  return {
    deps,
    db,
    store,
    urlGroups,
    queue,
    clock,
    storedCount: () => (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n,
    cleanup: () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
