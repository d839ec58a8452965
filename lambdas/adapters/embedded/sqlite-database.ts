import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * How hard SQLite pushes each commit to disk. In WAL mode, NORMAL survives any process crash
 * (kill -9 included: a commit is in the WAL before the publish is acknowledged) and may lose
 * the last commits on a power cut or OS crash; FULL fsyncs every commit and loses nothing
 * acknowledged even then, at a throughput cost.
 */
export type SqliteSynchronous = 'NORMAL' | 'FULL';

export const DATABASE_FILE = 'sqstash.db';

const SCHEMA_VERSION = 1;
const BUSY_TIMEOUT_MS = 2000;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE messages (
      id          TEXT PRIMARY KEY,
      fields      TEXT NOT NULL,
      body        BLOB NOT NULL,
      state       TEXT NOT NULL,
      retried     INTEGER NOT NULL DEFAULT 0,
      due_at      INTEGER,
      lease_until INTEGER,
      created_at  INTEGER NOT NULL
    );
    -- Only messages waiting for an attempt are in this index, so finding due work stays cheap
    -- however many failed messages are kept for the DLQ.
    CREATE INDEX messages_due ON messages (due_at) WHERE due_at IS NOT NULL AND lease_until IS NULL;

    CREATE TABLE dedup_keys (
      key        TEXT PRIMARY KEY,
      message_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
    CREATE INDEX dedup_keys_expiry ON dedup_keys (expires_at);

    CREATE TABLE events (
      seq        INTEGER PRIMARY KEY AUTOINCREMENT,
      time       INTEGER NOT NULL,
      message_id TEXT NOT NULL,
      state      TEXT NOT NULL,
      fields     TEXT NOT NULL
    );
    CREATE INDEX events_message ON events (message_id);

    CREATE TABLE url_groups (
      name       TEXT PRIMARY KEY,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE url_group_endpoints (
      group_name TEXT NOT NULL REFERENCES url_groups (name) ON DELETE CASCADE,
      url        TEXT NOT NULL,
      name       TEXT,
      position   INTEGER NOT NULL,
      PRIMARY KEY (group_name, url)
    );

    CREATE TABLE queues (
      name        TEXT PRIMARY KEY,
      parallelism INTEGER NOT NULL,
      paused      INTEGER NOT NULL DEFAULT 0,
      created_at  INTEGER NOT NULL,
      updated_at  INTEGER NOT NULL
    );

    -- Small named values that must outlive a restart, such as rotated signing keys.
    CREATE TABLE settings (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );

    CREATE TABLE dlq (
      dlq_id          TEXT PRIMARY KEY,
      message_id      TEXT NOT NULL,
      failed_at       INTEGER NOT NULL,
      response_status INTEGER NOT NULL,
      fields          TEXT NOT NULL,
      response_body   BLOB NOT NULL
    );
  `,
};

/** Opens (creating if needed) the data directory's database and brings its schema up to date. */
export function openDatabase(dataDir: string, synchronous: SqliteSynchronous): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, DATABASE_FILE);
  const db = new Database(path);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // One process owns a data directory: its leases and due-time timers assume no other writer.
  // The exclusive lock is held until the process exits, and the OS frees it even on kill -9.
  db.pragma('locking_mode = EXCLUSIVE');
  try {
    db.pragma('journal_mode = WAL');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    db.close();
    throw new Error(`${path} is in use by another sqstash process; give each server its own SQSTASH_DATA_DIR`, {
      cause: error,
    });
  }
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `${path} has schema version ${current}, newer than this sqstash (${SCHEMA_VERSION}); upgrade sqstash`,
    );
  }
  db.transaction(() => {
    for (let version = current + 1; version <= SCHEMA_VERSION; version += 1) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version}`);
    }
  })();
  return db;
}
