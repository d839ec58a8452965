import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  DATABASE_FILE,
  MIGRATIONS,
  openDatabase,
} from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteDeadLetterStore } from '../../lambdas/adapters/embedded/sqlite-dead-letter-store';
import { SqliteEventLog } from '../../lambdas/adapters/embedded/sqlite-event-log';
import { SqliteFlowControl } from '../../lambdas/adapters/embedded/sqlite-flow-control';
import { originOf, SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteRetention } from '../../lambdas/adapters/embedded/sqlite-retention';
import { SqliteWorkflowRunStore } from '../../lambdas/adapters/embedded/sqlite-workflow-run-store';
import type { Message } from '../../lambdas/core/message';
import { encodeMessageFields } from '../../lambdas/core/message-codec';
import { destinationHostAndPath } from '../../lambdas/core/messages';
import { makeMessage, T0 } from '../helpers/messages';
import { comparable } from '../helpers/settlements';

const LEASE_MS = 60_000;

/** The pending messages every upgrade starts with: waiting, in flight, and two in one FIFO queue. */
const PENDING = {
  pending: makeMessage({ messageId: 'msg_pending', notBefore: T0 + 10, labels: ['a'] }),
  inFlight: makeMessage({ messageId: 'msg_in_flight', notBefore: T0 + 1 }),
  queued1: makeMessage({ messageId: 'msg_q1', queueName: 'q1', notBefore: T0 + 2 }),
  queued2: makeMessage({ messageId: 'msg_q2', queueName: 'q1', notBefore: T0 + 3 }),
};

/**
 * Every pending message kept as it was; once the restart frees the lease, the in-flight one, the
 * queue's head only (parallelism 1) and the unqueued one are claimed, by due time.
 */
async function expectPendingKept(db: Database.Database): Promise<void> {
  const store = new SqliteMessageStore(db);
  for (const message of [PENDING.pending, PENDING.queued1, PENDING.queued2]) {
    expect(comparable(await store.getPendingMessage(message.messageId))).toEqual(
      comparable(message),
    );
  }
  expect(store.releaseAll()).toBe(1);
  expect(
    store.claimDue(T0 + 100, 10, T0 + 100 + LEASE_MS).map((claim) => claim.message.messageId),
  ).toEqual(['msg_in_flight', 'msg_q1', 'msg_pending']);
}

/**
 * A schema-1 database as the first sqstash left it: the message rows (pending, in flight,
 * queued, failed) and their `message_history` rows, the events (CREATED included), a dead
 * letter, a dedup claim, and the history of messages already delivered or canceled.
 */
function writeVersion1(path: string, messages: Record<string, Message>): void {
  const db = new Database(path);
  db.exec(MIGRATIONS[1]!);
  db.pragma('user_version = 1');
  const history = db.prepare(
    `INSERT INTO message_history (message_id, created_at, url, host, path, topic_name, queue_name,
       schedule_id, caller_ip, labels, fields, body) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, NULL, ?, ?, ?)`,
  );
  const row = db.prepare(
    `INSERT INTO messages (id, fields, body, state, retried, due_at, lease_until, created_at,
       queue_name, queue_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const event = db.prepare(
    'INSERT INTO events (time, message_id, state, fields) VALUES (?, ?, ?, ?)',
  );
  const create = (message: Message) => {
    const { host, path } = destinationHostAndPath(message.url);
    const fields = encodeMessageFields(message);
    history.run(
      message.messageId,
      message.createdAt,
      message.url,
      host,
      path,
      message.queueName ?? null,
      JSON.stringify(message.labels),
      fields,
      message.body,
    );
    event.run(
      message.createdAt,
      message.messageId,
      'CREATED',
      JSON.stringify({ url: message.url }),
    );
    return fields;
  };
  const later = (message: Message, time: number, state: string, extra: object = {}) =>
    event.run(time, message.messageId, state, JSON.stringify({ url: message.url, ...extra }));
  const { pending, inFlight, queued1, queued2, failed, delivered, canceled } = messages;
  for (const message of [pending!, inFlight!, queued1!, queued2!]) {
    const fields = create(message);
    const queue = message.queueName ?? null;
    row.run(
      message.messageId,
      fields,
      message.body,
      message === inFlight ? 'ACTIVE' : 'CREATED',
      0,
      message.notBefore,
      message === inFlight ? T0 + LEASE_MS : null,
      message.createdAt,
      queue,
      queue === null ? null : message === queued1 ? 1 : 2,
    );
  }
  db.prepare(
    `INSERT INTO queues (name, parallelism, paused, created_at, updated_at) VALUES ('q1', 1, 0, ?, ?)`,
  ).run(T0, T0);
  db.prepare('INSERT INTO dedup_keys (key, message_id, expires_at) VALUES (?, ?, ?)').run(
    'order-1',
    pending!.messageId,
    T0 + 86_400_000,
  );
  row.run(
    failed!.messageId,
    create(failed!),
    failed!.body,
    'FAILED',
    3,
    null,
    null,
    failed!.createdAt,
    null,
    null,
  );
  later(failed!, T0 + 5, 'ACTIVE');
  later(failed!, T0 + 6, 'ERROR', { error: 'destination answered 500' });
  later(failed!, T0 + 6, 'FAILED', { error: 'destination answered 500' });
  db.prepare(
    `INSERT INTO dlq (dlq_id, message_id, failed_at, response_status, fields, response_body)
     VALUES (?, ?, ?, 500, ?, ?)`,
  ).run(
    `${T0 + 6}-0`,
    failed!.messageId,
    T0 + 6,
    JSON.stringify({ responseHeader: {}, error: 'destination answered 500' }),
    Buffer.from('no'),
  );
  create(delivered!);
  later(delivered!, T0 + 7, 'ACTIVE');
  later(delivered!, T0 + 8, 'DELIVERED', { responseStatus: 200 });
  create(canceled!);
  later(canceled!, T0 + 9, 'CANCEL_REQUESTED');
  later(canceled!, T0 + 9, 'CANCELED');
  db.close();
}

describe('openDatabase: upgrading a schema-1 database', () => {
  let dataDir: string;
  let db: Database.Database;
  const messages = {
    ...PENDING,
    failed: makeMessage({ messageId: 'msg_failed', maxRetries: 3 }),
    delivered: makeMessage({ messageId: 'msg_delivered', url: 'https://example.com/done' }),
    canceled: makeMessage({ messageId: 'msg_canceled' }),
  };

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-migration-'));
    writeVersion1(join(dataDir, DATABASE_FILE), messages);
    db = openDatabase(dataDir, 'NORMAL');
  });
  afterAll(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const states = async (messageId: string) =>
    (
      await new SqliteEventLog(db).listEvents({
        filter: { messageIds: [messageId] },
        order: 'earliestFirst',
        count: 100,
      })
    ).items.map((record) => record.event.state);

  it('is at the current schema, with incremental auto-vacuum and the workflow tables', async () => {
    expect(db.pragma('user_version', { simple: true })).toBe(Object.keys(MIGRATIONS).length);
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    // The upgrade's VACUUM copied the file through temporary files; writes journal in memory.
    expect(db.pragma('temp_store', { simple: true })).toBe(2);
    expect(await new SqliteWorkflowRunStore(db).getRun('wfr_none')).toBeUndefined();
  });

  it('keeps every pending message, and delivers them in order after the restart frees the lease', async () => {
    await expectPendingKept(db);
  });

  it('keeps the log of every message, finished ones included, with their configuration', async () => {
    expect(await states('msg_pending')).toEqual(['CREATED']);
    expect(await states('msg_failed')).toEqual(['CREATED', 'ACTIVE', 'ERROR', 'FAILED']);
    expect(await states('msg_delivered')).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
    expect(await states('msg_canceled')).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
    const page = await new SqliteEventLog(db).listEvents({
      filter: { url: ['https://example.com/done'] },
      order: 'latestFirst',
      count: 10,
    });
    expect(page.items.map((record) => comparable(record.message))).toEqual(
      Array(3).fill(comparable(messages.delivered)),
    );
  });

  it('keeps the dead letter with its message, and the dedup claim', async () => {
    const store = new SqliteMessageStore(db);
    const dlq = new SqliteDeadLetterStore(db, store);
    const entry = await dlq.getDeadLetter(`${T0 + 6}-0`);
    expect(comparable(entry?.message)).toEqual(comparable(messages.failed));
    expect(
      await store.insertMessage(
        makeMessage({ messageId: 'msg_again' }),
        { key: 'order-1', expiresAt: T0 + 86_400_000 },
        T0 + 20,
      ),
    ).toEqual({ inserted: false, existingMessageId: 'msg_pending' });
  });

  it('queues a new message behind the upgraded ones', async () => {
    const store = new SqliteMessageStore(db);
    await store.insertMessage(
      makeMessage({ messageId: 'msg_q3', queueName: 'q1', notBefore: T0 }),
      undefined,
      T0,
    );
    const position = (id: string) =>
      (db.prepare('SELECT fifo_seq AS seq FROM messages WHERE id = ?').get(id) as { seq: number })
        .seq;
    expect(position('msg_q3')).toBeGreaterThan(position('msg_q2'));
  });

  it('lets retention sweep the finished messages it brought over, and no pending one', async () => {
    const retention = new SqliteRetention(db);
    const swept = retention.sweepBatch(T0 + 1_000, T0 + 1_000);

    expect(swept).toMatchObject({ messages: 3, deadLetters: 1 });
    expect(await states('msg_delivered')).toEqual([]);
    expect(await states('msg_failed')).toEqual([]);
    expect(await states('msg_pending')).toEqual(['CREATED']);
    expect(await new SqliteMessageStore(db).getPendingMessage('msg_q2')).toBeDefined();
  });
});

/**
 * A schema-3 database as the release before flow control left it (migrations 1 to 3, the
 * one-row `messages` table): a pending, an in-flight, two queued and a delivered message.
 */
function writeVersion3(path: string, messages: Record<string, Message>): void {
  const db = new Database(path);
  db.function('sqstash_origin', { deterministic: true }, (url) => originOf(String(url)));
  for (const version of [1, 2, 3]) db.exec(MIGRATIONS[version]!);
  db.pragma('user_version = 3');
  const row = db.prepare(
    `INSERT INTO messages (id, created_at, url, origin, host, path, queue_name, labels, fields,
       state, due_at, lease_until, fifo_queue, fifo_seq, finished_at, body)
     VALUES (@id, @createdAt, @url, @origin, @host, @path, @queue, @labels, @fields, @state,
       @dueAt, @leaseUntil, @queue, @fifoSeq, @finishedAt, @body)`,
  );
  const event = db.prepare(
    'INSERT INTO events (time, message_id, state, fields) VALUES (?, ?, ?, ?)',
  );
  const insert = (message: Message, state: string, extra: Record<string, number | null> = {}) => {
    const { host, path } = destinationHostAndPath(message.url);
    row.run({
      id: message.messageId,
      createdAt: message.createdAt,
      url: message.url,
      origin: originOf(message.url),
      host,
      path,
      queue: message.queueName ?? null,
      labels: JSON.stringify(message.labels),
      fields: encodeMessageFields(message),
      state,
      dueAt: message.notBefore,
      leaseUntil: null,
      fifoSeq: null,
      finishedAt: null,
      body: message.body,
      ...extra,
    });
  };
  const { pending, inFlight, queued1, queued2, delivered } = messages;
  insert(pending!, 'CREATED');
  insert(inFlight!, 'ACTIVE', { leaseUntil: T0 + LEASE_MS });
  insert(queued1!, 'CREATED', { fifoSeq: 3 });
  insert(queued2!, 'CREATED', { fifoSeq: 4 });
  db.prepare(
    `INSERT INTO queues (name, parallelism, paused, created_at, updated_at) VALUES ('q1', 1, 0, ?, ?)`,
  ).run(T0, T0);
  insert(delivered!, 'DELIVERED', { dueAt: null, finishedAt: T0 + 8 });
  event.run(T0 + 8, delivered!.messageId, 'DELIVERED', JSON.stringify({ responseStatus: 200 }));
  // Workflow runs as migration 2 keeps them: when one ended is in its JSON fields.
  const run = db.prepare(
    `INSERT INTO workflow_runs (run_id, url, created_at, state, labels, fields)
     VALUES (?, 'https://app.example.com/wf', ?, ?, '[]', ?)`,
  );
  const fields = { configHeaders: {}, triggerHeader: {}, triggerMessageId: 'msg_t' };
  run.run('wfr_ended', T0, 'RUN_SUCCESS', JSON.stringify({ ...fields, completedAt: T0 + 9 }));
  run.run('wfr_running', T0, 'RUN_STARTED', JSON.stringify(fields));
  db.close();
}

describe('openDatabase: upgrading a schema-3 database to flow control', () => {
  let dataDir: string;
  let db: Database.Database;
  const messages = {
    ...PENDING,
    delivered: makeMessage({ messageId: 'msg_delivered', url: 'https://example.com/done' }),
  };

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-migration-'));
    writeVersion3(join(dataDir, DATABASE_FILE), messages);
    db = openDatabase(dataDir, 'NORMAL');
  });
  afterAll(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is at the current schema, with no flow-control key (no message of before has one)', async () => {
    expect(db.pragma('user_version', { simple: true })).toBe(Object.keys(MIGRATIONS).length);
    expect(await new SqliteFlowControl(db, undefined, () => {}).listKeys(undefined, T0)).toEqual(
      [],
    );
  });

  it('keeps every pending message, and delivers them in order after the restart frees the lease', async () => {
    await expectPendingKept(db);
  });

  it('keeps the log of the delivered message', async () => {
    const page = await new SqliteEventLog(db).listEvents({
      filter: { messageIds: ['msg_delivered'] },
      order: 'earliestFirst',
      count: 10,
    });
    expect(page.items.map((record) => record.event.state)).toEqual(['CREATED', 'DELIVERED']);
  });

  it('holds a message published after the upgrade with a flow-control key to its key', async () => {
    const flowControl = new SqliteFlowControl(db, undefined, () => {});
    const store = new SqliteMessageStore(db, () => {}, flowControl);
    for (const messageId of ['msg_fc1', 'msg_fc2']) {
      await store.insertMessage(
        makeMessage({ messageId, flowControl: { key: 'k', parallelism: 1 }, notBefore: T0 + 200 }),
        undefined,
        T0 + 200,
      );
    }

    expect(
      store.claimDue(T0 + 200, 10, T0 + 200 + LEASE_MS).map((claim) => claim.message.messageId),
    ).toEqual(['msg_fc1']);
    expect(await flowControl.getKey('k', T0 + 200)).toMatchObject({ inFlight: 1, waiting: 1 });
  });

  it('lets retention sweep the finished message and the ended run it brought over, and no pending or running one', async () => {
    const runs = new SqliteWorkflowRunStore(db);
    expect(await runs.getRun('wfr_ended')).toMatchObject({ completedAt: T0 + 9 });

    const swept = new SqliteRetention(db).sweepBatch(T0 + 1_000, T0 + 1_000);

    expect(swept).toMatchObject({ messages: 1, workflowRuns: 1 });
    expect(await new SqliteMessageStore(db).getPendingMessage('msg_q2')).toBeDefined();
    expect(await runs.getRun('wfr_ended')).toBeUndefined();
    expect(await runs.getRun('wfr_running')).toMatchObject({ state: 'RUN_STARTED' });
  });
});
