import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { DATABASE_FILE, openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteGroupCommit } from '../../lambdas/adapters/embedded/sqlite-group-commit';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteWriteLock } from '../../lambdas/adapters/embedded/sqlite-write-lock';
import { makeMessage, T0 } from '../helpers/messages';
import { describeMessageStoreContract } from './message-store.contract';

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sqstash-group-commit-'));
}

describeMessageStoreContract('SqliteGroupCommit over SqliteMessageStore', async () => {
  const dataDir = tempDataDir();
  const db = openDatabase(dataDir, 'NORMAL');
  return {
    store: new SqliteGroupCommit(db, new SqliteMessageStore(db), () => {}),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('SqliteGroupCommit', () => {
  let dataDir: string;
  let db: Database.Database;
  let inserted: number[];
  let store: SqliteGroupCommit;

  const stored = (messageId: string) =>
    db.prepare('SELECT 1 FROM messages WHERE id = ?').get(messageId) !== undefined;
  const pending = (messageId: string) =>
    db.prepare('SELECT 1 FROM messages WHERE id = ? AND due_at IS NOT NULL').get(messageId) !==
    undefined;

  beforeEach(() => {
    dataDir = tempDataDir();
    db = openDatabase(dataDir, 'NORMAL');
    inserted = [];
    store = new SqliteGroupCommit(db, new SqliteMessageStore(db), (dueAt) => inserted.push(dueAt));
  });

  afterEach(() => {
    if (db.open) db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes the inserts of one turn together, and resolves each only once they are committed', async () => {
    const writes = [
      store.insertMessage(makeMessage({ messageId: 'msg_a', notBefore: T0 + 50 }), undefined, T0),
      store.insertMessage(makeMessage({ messageId: 'msg_b', notBefore: T0 + 10 }), undefined, T0),
    ];
    const before = [stored('msg_a'), stored('msg_b')];

    const results = await Promise.all(writes);

    expect(before).toEqual([false, false]);
    expect(results).toEqual([{ inserted: true }, { inserted: true }]);
    expect([stored('msg_a'), stored('msg_b')]).toEqual([true, true]);
    expect(inserted).toEqual([T0 + 10]);
  });

  it('rolls back only the write that failed, and commits the others of its batch', async () => {
    await store.insertMessage(makeMessage({ messageId: 'msg_taken' }), undefined, T0);

    const results = await Promise.allSettled([
      store.insertMessage(makeMessage({ messageId: 'msg_before' }), undefined, T0),
      store.insertMessage(makeMessage({ messageId: 'msg_taken' }), undefined, T0),
      store.insertMessage(makeMessage({ messageId: 'msg_after' }), undefined, T0),
    ]);

    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect([stored('msg_before'), stored('msg_after')]).toEqual([true, true]);
    const rows = db.prepare("SELECT COUNT(*) AS n FROM messages WHERE id = 'msg_taken'").get() as {
      n: number;
    };
    expect(rows.n).toBe(1);
  });

  it('undoes the whole of a write that failed part-way, and commits the others of its batch', async () => {
    // Prepare: the second message of a two-message publish is a duplicate, so that write fails
    // after storing its first message.
    await store.insertMessage(makeMessage({ messageId: 'msg_taken' }), undefined, T0);

    // Act
    const results = await Promise.allSettled([
      store.insertMessage(makeMessage({ messageId: 'msg_before' }), undefined, T0),
      store.insertMessages(
        [
          { message: makeMessage({ messageId: 'msg_first_of_failed' }) },
          { message: makeMessage({ messageId: 'msg_taken' }) },
        ],
        T0,
      ),
      store.insertMessage(makeMessage({ messageId: 'msg_after' }), undefined, T0),
    ]);

    // Assess
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect([stored('msg_before'), stored('msg_first_of_failed'), stored('msg_after')]).toEqual([
      true,
      false,
      true,
    ]);
  });

  it('rejects every write of a batch whose transaction fails, and stores none', async () => {
    const writes = [
      store.insertMessage(makeMessage({ messageId: 'msg_1' }), undefined, T0),
      store.insertMessage(makeMessage({ messageId: 'msg_2' }), undefined, T0),
    ];
    db.close();

    const results = await Promise.allSettled(writes);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(inserted).toEqual([]);
  });

  it('runs a write given to commit() in its batch, seeing the writes queued before it', async () => {
    // Prepare: the delivery worker claims through commit(), on the store the batch writes to.
    const messages = new SqliteMessageStore(db);
    store = new SqliteGroupCommit(db, messages, (dueAt) => inserted.push(dueAt));
    const publish = store.insertMessage(makeMessage({ messageId: 'msg_due' }), undefined, T0);

    // Act
    const claim = store.commit(() => messages.claimDue(T0 + 1_000, 10, T0 + 60_000));
    const failing = store.commit(() => {
      throw new Error('no claim');
    });
    const before = stored('msg_due');

    // Assess
    expect(before).toBe(false);
    await expect(publish).resolves.toEqual({ inserted: true });
    const claimed = await claim;
    expect(claimed.map(({ message }) => message.messageId)).toEqual(['msg_due']);
    await expect(failing).rejects.toThrow('no claim');
    const lease = db
      .prepare("SELECT lease_until AS until FROM messages WHERE id = 'msg_due'")
      .get();
    expect(lease).toEqual({ until: T0 + 60_000 });
  });

  it('tells nothing when a batch stored no message', async () => {
    await store.insertMessage(makeMessage({ messageId: 'msg_x' }), undefined, T0);
    inserted = [];

    await store.settleAttempt({
      message: makeMessage({ messageId: 'msg_x' }),
      retried: 0,
      outcome: { kind: 'delivered' },
      events: [],
      callbacks: [],
    });

    expect(inserted).toEqual([]);
    expect(pending('msg_x')).toBe(false);
  });
});

describe('SqliteGroupCommit with a write lock shared with another thread', () => {
  // The other thread: takes the lock and SQLite's write lock, holds both for `holdMs` (its event
  // loop asleep, as a long commit's), then commits and lets go.
  const HOLDER = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.driver);
    const db = new Database(workerData.path);
    const word = new Int32Array(workerData.lock);
    if (Atomics.compareExchange(word, 0, 0, 1) !== 0) throw new Error('lock taken');
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO settings (key, value) VALUES ('holder', 'was here')").run();
    parentPort.postMessage('holding');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
    db.exec('COMMIT');
    Atomics.store(word, 0, 0);
    Atomics.notify(word, 0);
    db.close();
  `;
  const HOLD_MS = 400;
  const TICK_MS = 20;

  it('waits for the other thread without blocking its event loop, then commits', async () => {
    // Arrange
    const dataDir = tempDataDir();
    const db = openDatabase(dataDir, 'NORMAL');
    const lock = new SqliteWriteLock();
    const store = new SqliteGroupCommit(db, new SqliteMessageStore(db), () => {}, lock);
    const holder = new Worker(HOLDER, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        path: join(dataDir, DATABASE_FILE),
        lock: lock.buffer,
        holdMs: HOLD_MS,
      },
    });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise((resolve) => holder.once('message', resolve));
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, TICK_MS);

    // Act
    const startedAt = Date.now();
    const insert = store.insertMessage(makeMessage({ messageId: 'msg_waited' }), undefined, T0);
    const result = await insert;
    const waitedMs = Date.now() - startedAt;
    clearInterval(ticker);
    await exited;

    // Assess: it committed after the holder (whose row is there), with no SQLITE_BUSY, and this
    // thread's timers kept running meanwhile (SQLite's busy handler would have slept it).
    expect(result).toEqual({ inserted: true });
    expect(waitedMs).toBeGreaterThan(HOLD_MS / 2);
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(db.prepare("SELECT value FROM settings WHERE key = 'holder'").get()).toEqual({
      value: 'was here',
    });
    expect(db.prepare("SELECT 1 AS n FROM messages WHERE id = 'msg_waited'").get()).toEqual({
      n: 1,
    });
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});
