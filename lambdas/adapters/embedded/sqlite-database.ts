import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { originOf } from './sqlite-message-store';

/**
 * How hard SQLite pushes each commit to disk. In WAL mode, NORMAL survives any process crash
 * (kill -9 included: a commit is in the WAL before the publish is acknowledged) and may lose
 * the last commits on a power cut or OS crash; FULL fsyncs every commit and loses nothing
 * acknowledged even then, at a throughput cost.
 */
export type SqliteSynchronous = 'NORMAL' | 'FULL';

export const DATABASE_FILE = 'sqstash.db';
/** Held by the process that owns the data directory. */
export const LOCK_FILE = 'sqstash.lock';

const SCHEMA_VERSION = 5;
/**
 * How long a write waits for the checkpointer thread's RESTART (sqlite-checkpointer.ts) or a
 * backup's read before it fails: far above what either holds the lock for.
 */
export const BUSY_TIMEOUT_MS = 10_000;
/**
 * 16 MiB of 4 KiB pages: the write-ahead log's size at which a commit checkpoints itself, and
 * at which the checkpointer thread makes the log start over (sqlite-checkpointer.ts).
 */
export const WAL_CAP_PAGES = 4_096;
const JOURNAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
/** `PRAGMA auto_vacuum`'s value for INCREMENTAL. */
const INCREMENTAL_AUTO_VACUUM = 2;

/** Each schema version's SQL, applied in order; exported for the upgrade tests. */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  1: `
    CREATE TABLE messages (
      id          TEXT PRIMARY KEY,
      fields      TEXT NOT NULL,
      body        BLOB NOT NULL,
      state       TEXT NOT NULL,
      retried     INTEGER NOT NULL DEFAULT 0,
      due_at      INTEGER,
      lease_until INTEGER,
      created_at  INTEGER NOT NULL,
      -- FIFO queue membership: callbacks of a queued message share its position, so the queue
      -- moves on only when the message and its callbacks are done.
      queue_name  TEXT,
      queue_seq   INTEGER,
      -- Set when a cancel arrives while an attempt is in flight: the attempt's settlement (or
      -- its release) then ends the message CANCELED.
      cancel_requested_at INTEGER
    );
    -- Only unqueued messages waiting for an attempt are in this index, so finding due work stays
    -- cheap however many failed messages are kept for the DLQ.
    CREATE INDEX messages_due ON messages (due_at)
      WHERE due_at IS NOT NULL AND lease_until IS NULL AND queue_name IS NULL;
    -- A queue's open messages (pending or in flight) in FIFO order.
    CREATE INDEX messages_queue ON messages (queue_name, queue_seq)
      WHERE queue_name IS NOT NULL AND due_at IS NOT NULL;

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
    -- /v2/events pages by (time, seq); seq is the rowid, so this index covers the order.
    CREATE INDEX events_time ON events (time);

    -- What every message was created with, kept after the message is delivered or canceled:
    -- the log joins it to echo the configuration, and the log, DLQ and cancel filters match on
    -- its columns. Written once per message, never per attempt.
    CREATE TABLE message_history (
      message_id  TEXT PRIMARY KEY,
      created_at  INTEGER NOT NULL,
      url         TEXT NOT NULL,
      host        TEXT NOT NULL,
      path        TEXT NOT NULL,
      topic_name  TEXT,
      queue_name  TEXT,
      schedule_id TEXT,
      caller_ip   TEXT,
      labels      TEXT NOT NULL,
      fields      TEXT NOT NULL,
      body        BLOB NOT NULL
    );

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
    -- An endpoint name, when given, picks out one endpoint of its group.
    CREATE UNIQUE INDEX url_group_endpoint_names ON url_group_endpoints (group_name, name)
      WHERE name IS NOT NULL;

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
    -- The DLQ lists and pages by (failed_at, dlq_id).
    CREATE INDEX dlq_failed ON dlq (failed_at, dlq_id);

    -- Cron schedules: the publish each tick repeats (fields: cron, destination, headers,
    -- queueName, callerIp as JSON; the body raw) and their run state.
    CREATE TABLE schedules (
      id                 TEXT PRIMARY KEY,
      fields             TEXT NOT NULL,
      body               BLOB NOT NULL,
      created_at         INTEGER NOT NULL,
      paused             INTEGER NOT NULL DEFAULT 0,
      last_schedule_time INTEGER,
      next_schedule_time INTEGER,
      error              TEXT
    );
    -- The runner sleeps until the earliest tick of a running schedule.
    CREATE INDEX schedules_next ON schedules (next_schedule_time)
      WHERE next_schedule_time IS NOT NULL AND paused = 0;
    -- Schedule creations deduplicate apart from publishes: one id may name a message and a
    -- schedule without either being taken for a duplicate of the other.
    CREATE TABLE schedule_dedup_keys (
      key         TEXT PRIMARY KEY,
      schedule_id TEXT NOT NULL,
      expires_at  INTEGER NOT NULL
    );
  `,
  // Upstash Workflow runs (sqlite-workflow-run-store.ts).
  2: `
    CREATE TABLE workflow_runs (
      run_id     TEXT PRIMARY KEY,
      url        TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      state      TEXT NOT NULL,
      caller_ip  TEXT,
      labels     TEXT NOT NULL,
      dlq_id     TEXT,
      fields     TEXT NOT NULL
    );
    -- Logs and bulk actions list runs newest first.
    CREATE INDEX workflow_runs_created ON workflow_runs (created_at, run_id);
    -- Every message of a run (to cancel them with it); once delivered, its place in the run's
    -- history (seq) and its body, which every later delivery of the run is handed.
    CREATE TABLE workflow_run_messages (
      run_id     TEXT NOT NULL,
      message_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      seq        INTEGER,
      call_type  TEXT,
      body       BLOB,
      PRIMARY KEY (run_id, message_id)
    );
    CREATE UNIQUE INDEX workflow_run_steps ON workflow_run_messages (run_id, seq)
      WHERE seq IS NOT NULL;
    CREATE TABLE workflow_waiters (
      waiter_id  TEXT PRIMARY KEY,
      run_id     TEXT NOT NULL,
      event_id   TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      claimed_by TEXT,
      fields     TEXT NOT NULL
    );
    CREATE INDEX workflow_waiters_event ON workflow_waiters (event_id, created_at)
      WHERE claimed_by IS NULL;
    CREATE INDEX workflow_waiters_run ON workflow_waiters (run_id);
    CREATE TABLE workflow_notifications (
      seq        INTEGER PRIMARY KEY AUTOINCREMENT,
      run_id     TEXT NOT NULL,
      event_id   TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      webhook    INTEGER NOT NULL,
      data       BLOB NOT NULL
    );
    CREATE INDEX workflow_notifications_run ON workflow_notifications (run_id, event_id);
  `,
  // One row per message, from its creation until retention sweeps it: the v1 `message_history`
  // (what the log, DLQ and cancel filters match on) is folded into `messages`, which now keeps
  // delivered, failed and canceled messages too (finished_at set, due_at cleared). A message's
  // CREATED event is its row (created_at), so a publish writes one row, not three. Events are
  // keyed by rowid without AUTOINCREMENT (no sqlite_sequence write per event).
  3: `
    CREATE TABLE messages_v2 (
      seq         INTEGER PRIMARY KEY,
      id          TEXT NOT NULL UNIQUE,
      created_at  INTEGER NOT NULL,
      -- What the message was created with, for the filters of the log, the DLQ and cancel.
      url         TEXT NOT NULL,
      -- Scheme, host and port, lowercased: what the per-destination cap counts by.
      origin      TEXT NOT NULL,
      host        TEXT NOT NULL,
      path        TEXT NOT NULL,
      topic_name  TEXT,
      queue_name  TEXT,
      schedule_id TEXT,
      caller_ip   TEXT,
      labels      TEXT NOT NULL,
      fields      TEXT NOT NULL,
      state       TEXT NOT NULL,
      retried     INTEGER NOT NULL DEFAULT 0,
      -- Set while the message is pending (it may still be attempted); cleared when it finishes.
      due_at      INTEGER,
      lease_until INTEGER,
      -- FIFO queue membership: callbacks of a queued message share its position, so the queue
      -- moves on only when the message and its callbacks are done. A deleted queue lets go of
      -- its in-flight messages (fifo_queue cleared) while queue_name keeps what they had.
      fifo_queue  TEXT,
      fifo_seq    INTEGER,
      -- Set when a cancel arrives while an attempt is in flight: the attempt's settlement (or
      -- its release) then ends the message CANCELED.
      cancel_requested_at INTEGER,
      -- When it was delivered, failed or canceled; retention sweeps by it.
      finished_at INTEGER,
      body        BLOB NOT NULL
    );
    INSERT INTO messages_v2 (seq, id, created_at, url, origin, host, path, topic_name, queue_name,
      schedule_id, caller_ip, labels, fields, state, retried, due_at, lease_until, fifo_queue,
      fifo_seq, cancel_requested_at, finished_at, body)
    SELECT
      -- Above every event's seq, so that no CREATED key of the log equals an event's.
      (SELECT COALESCE(MAX(seq), 0) FROM events) + ROW_NUMBER() OVER (ORDER BY h.created_at, h.rowid),
      h.message_id, h.created_at, h.url, sqstash_origin(h.url), h.host, h.path, h.topic_name,
      h.queue_name,
      h.schedule_id, h.caller_ip, h.labels, h.fields,
      CASE
        WHEN m.due_at IS NOT NULL THEN m.state
        WHEN m.id IS NOT NULL THEN 'FAILED'
        ELSE COALESCE(last.state, 'CANCELED')
      END,
      COALESCE(m.retried, 0), m.due_at, m.lease_until,
      CASE WHEN m.due_at IS NOT NULL THEN m.queue_name END,
      CASE WHEN m.due_at IS NOT NULL THEN m.queue_seq END,
      m.cancel_requested_at,
      CASE WHEN m.due_at IS NULL OR m.id IS NULL THEN COALESCE(last.time, h.created_at) END,
      h.body
    FROM message_history h
    LEFT JOIN messages m ON m.id = h.message_id
    -- The last terminal event of each message says how and when it finished (SQLite takes the
    -- bare columns from the row of the MAX).
    LEFT JOIN (
      SELECT message_id, state, time, MAX(seq) FROM events
      WHERE state IN ('DELIVERED', 'FAILED', 'CANCELED') GROUP BY message_id
    ) last ON last.message_id = h.message_id;
    DROP TABLE messages;
    DROP TABLE message_history;
    ALTER TABLE messages_v2 RENAME TO messages;
    -- Only unqueued messages waiting for an attempt: finding due work stays cheap however many
    -- messages are kept. The origin lets a claim pass over a capped destination's backlog
    -- without reading its rows.
    CREATE INDEX messages_due ON messages (due_at, origin)
      WHERE due_at IS NOT NULL AND lease_until IS NULL AND fifo_queue IS NULL;
    -- A queue's open messages (pending or in flight) in FIFO order.
    CREATE INDEX messages_fifo ON messages (fifo_queue, fifo_seq)
      WHERE fifo_queue IS NOT NULL AND due_at IS NOT NULL;
    -- Every pending message, so a cancel reads only those, not the kept history.
    CREATE INDEX messages_pending ON messages (created_at) WHERE due_at IS NOT NULL;
    -- The log's CREATED entries in (time, seq) order.
    CREATE INDEX messages_created ON messages (created_at);
    CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;

    CREATE TABLE events_v2 (
      seq        INTEGER PRIMARY KEY,
      time       INTEGER NOT NULL,
      message_id TEXT NOT NULL,
      state      TEXT NOT NULL,
      fields     TEXT NOT NULL
    );
    INSERT INTO events_v2 (seq, time, message_id, state, fields)
      SELECT seq, time, message_id, state, fields FROM events WHERE state <> 'CREATED';
    DROP TABLE events;
    ALTER TABLE events_v2 RENAME TO events;
    CREATE INDEX events_message ON events (message_id);
    -- /v2/events pages by (time, seq); seq is the rowid, so this index covers the order.
    CREATE INDEX events_time ON events (time);

    CREATE INDEX schedule_dedup_keys_expiry ON schedule_dedup_keys (expires_at);
  `,
  // Flow control (sqlite-flow-control.ts). The messages of before have no key.
  4: `
    -- A message with a key waits in its key's waitlist, out of the due index, and is claimed
    -- through the gate (sqlite-flow-control.ts).
    ALTER TABLE messages ADD COLUMN flow_key TEXT;
    DROP INDEX messages_due;
    CREATE INDEX messages_due ON messages (due_at, origin)
      WHERE due_at IS NOT NULL AND lease_until IS NULL AND fifo_queue IS NULL AND flow_key IS NULL;
    -- Each key's waitlist: its unqueued messages waiting for an attempt, by due time.
    CREATE INDEX messages_flow ON messages (flow_key, due_at)
      WHERE flow_key IS NOT NULL AND due_at IS NOT NULL AND lease_until IS NULL
        AND fifo_queue IS NULL;

    -- One row per key that has pending messages, settings of its own or counted starts.
    -- settings: the core's FlowControlSettings as JSON. in_flight: its leased messages, kept by
    -- the triggers below. wake_at: when the gate must look at the key again (NULL: only when an
    -- event, such as a settlement or a resume, sets it). rate_max, rate_period_ms: the rate last
    -- in force (0: none), which its starts are counted against while nothing is pending.
    -- waits_for_global: the global parallelism held it back; any settlement wakes it. active_at:
    -- when a message of it was last created or looked at by the gate, or its settings changed;
    -- retention forgets a key idle for longer than the retention period (sqlite-retention.ts).
    CREATE TABLE flow_control_keys (
      key              TEXT PRIMARY KEY,
      settings         TEXT NOT NULL DEFAULT '{}',
      in_flight        INTEGER NOT NULL DEFAULT 0,
      wake_at          INTEGER,
      rate_max         INTEGER NOT NULL DEFAULT 0,
      rate_period_ms   INTEGER NOT NULL DEFAULT 0,
      waits_for_global INTEGER NOT NULL DEFAULT 0,
      active_at        INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX flow_control_wake ON flow_control_keys (wake_at) WHERE wake_at IS NOT NULL;
    CREATE INDEX flow_control_global ON flow_control_keys (waits_for_global)
      WHERE waits_for_global = 1;
    CREATE INDEX flow_control_busy ON flow_control_keys (in_flight) WHERE in_flight > 0;
    CREATE INDEX flow_control_active ON flow_control_keys (active_at);

    -- The configurations a key's pending messages carry (0: not set), counted by the triggers.
    CREATE TABLE flow_control_configs (
      key               TEXT NOT NULL,
      parallelism       INTEGER NOT NULL,
      rate              INTEGER NOT NULL,
      period_ms         INTEGER NOT NULL,
      pending           INTEGER NOT NULL,
      newest_created_at INTEGER NOT NULL,
      PRIMARY KEY (key, parallelism, rate, period_ms)
    ) WITHOUT ROWID;

    -- Attempts started, per key and instant, while a rate may count them.
    CREATE TABLE flow_control_starts (
      key   TEXT NOT NULL,
      at    INTEGER NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (key, at)
    ) WITHOUT ROWID;
    -- Retention removes the starts older than any rate period.
    CREATE INDEX flow_control_starts_at ON flow_control_starts (at);

    -- The triggers keep the counts exact in the same transaction as every change to a message,
    -- whichever statement makes it (insert, claim, settlement, release, cancel, a queue's
    -- deletion). A pending row is never deleted: a message finishes by clearing its due_at, and
    -- retention deletes only finished rows.
    CREATE TRIGGER flow_message_inserted AFTER INSERT ON messages
    WHEN NEW.flow_key IS NOT NULL BEGIN
      INSERT INTO flow_control_keys (key, wake_at, active_at) VALUES (NEW.flow_key, 0, NEW.created_at)
        ON CONFLICT (key) DO UPDATE SET wake_at = 0, active_at = max(active_at, excluded.active_at);
      INSERT INTO flow_control_configs (key, parallelism, rate, period_ms, pending, newest_created_at)
        VALUES (
          NEW.flow_key,
          coalesce(json_extract(NEW.fields, '$.flowControl.parallelism'), 0),
          coalesce(json_extract(NEW.fields, '$.flowControl.rate'), 0),
          CASE WHEN json_extract(NEW.fields, '$.flowControl.rate') IS NULL THEN 0
            ELSE json_extract(NEW.fields, '$.flowControl.periodSec') * 1000 END,
          1,
          NEW.created_at
        )
        ON CONFLICT (key, parallelism, rate, period_ms) DO UPDATE SET
          pending = pending + 1,
          newest_created_at = max(newest_created_at, excluded.newest_created_at);
    END;

    CREATE TRIGGER flow_message_leased AFTER UPDATE OF lease_until ON messages
    WHEN NEW.flow_key IS NOT NULL AND OLD.lease_until IS NULL AND NEW.lease_until IS NOT NULL BEGIN
      UPDATE flow_control_keys SET in_flight = in_flight + 1 WHERE key = NEW.flow_key;
    END;

    CREATE TRIGGER flow_message_released AFTER UPDATE OF lease_until ON messages
    WHEN NEW.flow_key IS NOT NULL AND OLD.lease_until IS NOT NULL AND NEW.lease_until IS NULL BEGIN
      UPDATE flow_control_keys SET in_flight = in_flight - 1, wake_at = 0 WHERE key = NEW.flow_key;
      UPDATE flow_control_keys SET wake_at = 0, waits_for_global = 0 WHERE waits_for_global = 1;
    END;

    -- Delivered, failed or canceled: the message no longer counts towards its configuration.
    CREATE TRIGGER flow_message_finished AFTER UPDATE OF due_at ON messages
    WHEN NEW.flow_key IS NOT NULL AND OLD.due_at IS NOT NULL AND NEW.due_at IS NULL BEGIN
      UPDATE flow_control_configs SET pending = pending - 1
        WHERE key = NEW.flow_key
          AND parallelism = coalesce(json_extract(NEW.fields, '$.flowControl.parallelism'), 0)
          AND rate = coalesce(json_extract(NEW.fields, '$.flowControl.rate'), 0)
          AND period_ms = CASE WHEN json_extract(NEW.fields, '$.flowControl.rate') IS NULL THEN 0
            ELSE json_extract(NEW.fields, '$.flowControl.periodSec') * 1000 END;
      DELETE FROM flow_control_configs WHERE key = NEW.flow_key AND pending <= 0;
      UPDATE flow_control_keys SET wake_at = 0 WHERE key = NEW.flow_key;
    END;
  `,
  // Retention of workflow runs: when a run ended (succeeded, failed or was canceled) becomes a
  // column, so that the sweep finds the runs ended before its cutoff (sqlite-retention.ts).
  5: `
    ALTER TABLE workflow_runs ADD COLUMN completed_at INTEGER;
    UPDATE workflow_runs SET
      completed_at = CASE WHEN state <> 'RUN_STARTED' THEN json_extract(fields, '$.completedAt') END,
      fields = json_remove(fields, '$.completedAt');
    CREATE INDEX workflow_runs_completed ON workflow_runs (completed_at)
      WHERE completed_at IS NOT NULL;
  `,
};

/**
 * Holds the data directory for this process: a second sqstash on it (or a second open in this
 * process) is refused. A lock file rather than the database's own exclusive locking mode, so
 * that the checkpointer thread (sqlite-checkpointer.ts) can open the database too. The OS frees
 * the lock when the process ends, kill -9 included.
 */
function lockDataDir(dataDir: string): Database.Database {
  const lock = new Database(join(dataDir, LOCK_FILE));
  lock.pragma('locking_mode = EXCLUSIVE');
  try {
    lock.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (error) {
    lock.close();
    throw new Error(
      `${join(dataDir, DATABASE_FILE)} is in use by another sqstash process; give each server its own SQSTASH_DATA_DIR`,
      { cause: error },
    );
  }
  return lock;
}

/** What every connection to the database is set up with. */
function configure(db: Database.Database, synchronous: SqliteSynchronous): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // Checkpoints run on their own thread (sqlite-checkpointer.ts), not in a commit on the event
  // loop. The log starts over only once a checkpoint has copied all of it, which that thread,
  // racing the commits, rarely sees; so a commit still checkpoints at this size, by then
  // copying only what came in since the thread's last pass. It is also the backstop should that
  // thread fall behind or not run at all.
  db.pragma(`wal_autocheckpoint = ${WAL_CAP_PAGES}`);
  db.pragma(`synchronous = ${synchronous}`);
  // A checkpoint leaves the write-ahead log at its largest size; cut it back to this after one
  // that outgrew it (a VACUUM), so the files on disk stay bounded.
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  db.pragma('foreign_keys = ON');
}

/**
 * A group commit runs each write in a savepoint (sqlite-group-commit.ts), and a statement that
 * fires triggers runs in a statement transaction: both journal the pages they change so they can
 * be rolled back alone. That journal spills to a temporary file past 64 KiB, which a burst's
 * batches reached about once per 50 messages (a file created, written and deleted in /var/tmp
 * each time). Kept in memory instead, bounded by one batch (MAX_BATCH writes); a query's sort,
 * which goes the same way, holds no more than the rows it returns. The database's own
 * durability (its write-ahead log) is untouched.
 */
function keepJournalsInMemory(db: Database.Database): void {
  db.pragma('temp_store = MEMORY');
}

/**
 * Opens (creating if needed) the data directory's database and brings its schema up to date.
 * The directory stays locked to this process until the database is closed.
 */
export function openDatabase(dataDir: string, synchronous: SqliteSynchronous): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  // One process owns a data directory: its leases and due-time timers assume no other writer.
  const lock = lockDataDir(dataDir);
  const db = new Database(join(dataDir, DATABASE_FILE));
  const close = db.close.bind(db);
  db.close = () => {
    close();
    lock.close();
    return db;
  };
  // Retention frees pages; with incremental auto-vacuum the sweeper can hand them back to the
  // file system. Takes effect only on a new file (set before anything is written to it).
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  configure(db, synchronous);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `${join(dataDir, DATABASE_FILE)} has schema version ${current}, newer than this sqstash (${SCHEMA_VERSION}); upgrade sqstash`,
    );
  }
  // For the migrations: the origin as the delivery worker computes it.
  db.function('sqstash_origin', { deterministic: true }, (url) => originOf(String(url)));
  db.transaction(() => {
    for (let version = current + 1; version <= SCHEMA_VERSION; version += 1) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version}`);
    }
  })();
  if (db.pragma('auto_vacuum', { simple: true }) !== INCREMENTAL_AUTO_VACUUM) {
    // A file made before retention: rewritten once, so its free pages can be given back too.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  }
  // Only now: the migrations and the VACUUM copy and sort whole tables, as large as the file,
  // and their temporary data belongs in files, not memory.
  keepJournalsInMemory(db);
  return db;
}

/**
 * Another connection to the database `openDatabase` opened in this process, for a thread of its
 * own (the delivery thread, delivery-thread.ts). The schema is already current and the data
 * directory locked by the first connection.
 */
export function connectDatabase(
  dataDir: string,
  synchronous: SqliteSynchronous,
): Database.Database {
  const db = new Database(join(dataDir, DATABASE_FILE));
  configure(db, synchronous);
  keepJournalsInMemory(db);
  return db;
}
