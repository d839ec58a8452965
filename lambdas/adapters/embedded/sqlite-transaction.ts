import type Database from 'better-sqlite3';

/**
 * `fn` as a transaction that takes the write lock at BEGIN (IMMEDIATE). Two connections write,
 * the API's and the delivery thread's (delivery-thread.ts): a deferred transaction that read
 * before it wrote would fail with SQLITE_BUSY, unretried, had the other committed in between;
 * an immediate one waits for the lock (busy_timeout) before it reads anything. Nested, it is a
 * savepoint.
 */
export function writeTransaction<A extends unknown[], R>(
  db: Database.Database,
  fn: (...args: A) => R,
): (...args: A) => R {
  return db.transaction(fn).immediate;
}
