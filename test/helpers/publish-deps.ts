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
import type { MessageStore } from '../../lambdas/ports/message-store';
import { fixedClock, sequentialIds, T0 } from './messages';

/** A message the store took, with the time it is due: what the store makes deliverable. */
export type StoredEntry = { messageId: string; dueAt: number };

/**
 * The store, recording every message it inserted (not those a dedup claim turned away), in
 * order: what it was asked to deliver, and when.
 */
export function recordingStore<T extends MessageStore>(
  store: T,
): { store: MessageStore; stored: StoredEntry[] } {
  const stored: StoredEntry[] = [];
  const record = (message: { messageId: string; notBefore: number }) =>
    stored.push({ messageId: message.messageId, dueAt: message.notBefore });
  return {
    stored,
    store: {
      insertMessage: async (message, dedup, nowMs) => {
        const result = await store.insertMessage(message, dedup, nowMs);
        if (result.inserted) record(message);
        return result;
      },
      insertMessages: async (messages, nowMs) => {
        const results = await store.insertMessages(messages, nowMs);
        results.forEach((result, index) => {
          if (result.inserted) record(messages[index]!.message);
        });
        return results;
      },
      getMessage: (messageId) => store.getMessage(messageId),
      getPendingMessage: (messageId) => store.getPendingMessage(messageId),
      settleAttempt: (settlement) => store.settleAttempt(settlement),
      cancelMessages: (filter, nowMs) => store.cancelMessages(filter, nowMs),
    },
  };
}

export type PublishFixture = {
  deps: PublishDeps;
  db: Database.Database;
  store: SqliteMessageStore;
  urlGroups: SqliteUrlGroupStore;
  /** What the store inserted, in order (recordingStore). */
  stored: StoredEntry[];
  clock: ReturnType<typeof fixedClock>;
  /** Rows in the messages table. */
  storedCount(): number;
  cleanup(): void;
};

/**
 * The core's publish dependencies on a fresh SQLite file: real stores, a fixed clock at T0,
 * sequential ids (`msg_1`, `msg_2`, …), recording what the store inserted.
 */
export function publishFixture(config: CoreConfig): PublishFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-publish-'));
  const db = openDatabase(dataDir, 'NORMAL');
  const store = new SqliteMessageStore(db);
  const urlGroups = new SqliteUrlGroupStore(db);
  const recording = recordingStore(store);
  const clock = fixedClock(T0);
  const deps: PublishDeps = {
    store: recording.store,
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
    stored: recording.stored,
    clock,
    storedCount: () => (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n,
    cleanup: () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
