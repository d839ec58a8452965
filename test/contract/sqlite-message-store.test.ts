import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { DATABASE_FILE, openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteEventLog } from '../../lambdas/adapters/embedded/sqlite-event-log';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import type { DeadLetter, Message } from '../../lambdas/core/message';
import type { AttemptSettlement } from '../../lambdas/ports/message-store';
import { makeMessage, T0 } from '../helpers/messages';
import { describeMessageStoreContract } from './message-store.contract';

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'sqstash-store-'));
}

describeMessageStoreContract('SqliteMessageStore', async () => {
  const dataDir = tempDataDir();
  const db = openDatabase(dataDir, 'NORMAL');
  return {
    store: new SqliteMessageStore(db),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

const LEASE_MS = 30_000;
const FIRST_BACKOFF_MS = 7_389;

describe('SqliteMessageStore', () => {
  let dataDir: string;
  let db: Database.Database;
  let store: SqliteMessageStore;

  const open = () => {
    db = openDatabase(dataDir, 'NORMAL');
    store = new SqliteMessageStore(db);
  };
  const due = (messageId: string, notBefore: number) => makeMessage({ messageId, notBefore });
  const claimedIds = (nowMs: number, limit = 100) =>
    store.claimDue(nowMs, limit, nowMs + LEASE_MS).map((claim) => claim.message.messageId);
  const stateOf = (messageId: string) =>
    (
      db.prepare('SELECT state FROM messages WHERE id = ?').get(messageId) as
        | { state: string }
        | undefined
    )?.state;
  const eventStates = async (messageId: string) =>
    (
      await new SqliteEventLog(db).listEvents({
        filter: { messageIds: [messageId] },
        order: 'earliestFirst',
        count: 100,
      })
    ).items.map((record) => record.event.state);

  beforeEach(() => {
    dataDir = tempDataDir();
    open();
  });

  afterEach(() => {
    if (db.open) db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('claimDue', () => {
    beforeEach(async () => {
      // Inserted out of due order, so rowid order and due order differ.
      await store.insertMessage(due('msg_30', T0 + 30), undefined, T0);
      await store.insertMessage(due('msg_10', T0 + 10), undefined, T0);
      await store.insertMessage(due('msg_later', T0 + 60_000), undefined, T0);
      await store.insertMessage(due('msg_20', T0 + 20), undefined, T0);
      await store.insertMessage(due('msg_5', T0 + 5), undefined, T0);
    });

    it('returns due messages earliest first, up to the limit, with their attempt number', () => {
      const claimed = store.claimDue(T0 + 100, 3, T0 + 100 + LEASE_MS);

      expect(claimed.map((claim) => claim.message.messageId)).toEqual([
        'msg_5',
        'msg_10',
        'msg_20',
      ]);
      expect(claimed.map((claim) => claim.retried)).toEqual([0, 0, 0]);
      expect(claimed[0]?.message).toEqual(due('msg_5', T0 + 5));
    });

    it('leases what it returns, so a second claim does not return it again', () => {
      claimedIds(T0 + 100, 3);

      expect(claimedIds(T0 + 100)).toEqual(['msg_30']);
      expect(claimedIds(T0 + 100)).toEqual([]);
    });

    it('does not return messages that are not due yet', () => {
      expect(claimedIds(T0 + 29)).toEqual(['msg_5', 'msg_10', 'msg_20']);
      expect(claimedIds(T0 + 59_999)).toEqual(['msg_30']);
      expect(claimedIds(T0 + 60_000)).toEqual(['msg_later']);
    });

    it('marks claimed messages ACTIVE', () => {
      claimedIds(T0 + 5);

      expect(stateOf('msg_5')).toBe('ACTIVE');
      expect(stateOf('msg_10')).toBe('CREATED');
    });
  });

  describe('nextDueAt', () => {
    it('returns undefined when nothing waits', () => {
      expect(store.nextDueAt(T0)).toBeUndefined();
    });

    it('returns the earliest due time of the messages not in flight', async () => {
      await store.insertMessage(due('msg_b', T0 + 200), undefined, T0);
      await store.insertMessage(due('msg_a', T0 + 100), undefined, T0);

      expect(store.nextDueAt(T0)).toBe(T0 + 100);
      claimedIds(T0 + 100);
      expect(store.nextDueAt(T0)).toBe(T0 + 200);
      claimedIds(T0 + 200);
      expect(store.nextDueAt(T0)).toBeUndefined();
    });
  });

  describe('release', () => {
    beforeEach(async () => {
      await store.insertMessage(due('msg_a', T0), undefined, T0);
      claimedIds(T0);
    });

    it('makes the message claimable again at its own due time without counting an attempt', () => {
      store.release('msg_a');

      expect(store.nextDueAt(T0)).toBe(T0);
      expect(stateOf('msg_a')).toBe('CREATED');
      expect(store.claimDue(T0, 10, T0 + LEASE_MS)).toEqual([
        { message: due('msg_a', T0), retried: 0 },
      ]);
    });

    it('postpones the message when given a new due time', () => {
      const later = T0 + 5_000;

      store.release('msg_a', later);

      expect(store.nextDueAt(T0)).toBe(later);
      expect(claimedIds(later - 1)).toEqual([]);
      expect(claimedIds(later)).toEqual(['msg_a']);
    });

    it('keeps the attempt number and RETRY state of a message that was retried before', async () => {
      const message = due('msg_a', T0);
      await store.settleAttempt(retrySettlement(message, 0, T0 + 10));
      claimedIds(T0 + 10);

      store.release('msg_a');

      expect(stateOf('msg_a')).toBe('RETRY');
      expect(store.claimDue(T0 + 10, 10, T0 + LEASE_MS)[0]?.retried).toBe(1);
    });
  });

  describe('settleAttempt', () => {
    const message = due('msg_a', T0);

    beforeEach(async () => {
      await store.insertMessage(message, undefined, T0);
      claimedIds(T0);
    });

    it('marks a delivered message DELIVERED, kept for the log, never due again, and appends its events', async () => {
      await store.settleAttempt({
        message,
        retried: 0,
        outcome: { kind: 'delivered' },
        events: [
          { time: T0, messageId: 'msg_a', state: 'ACTIVE', url: message.url },
          {
            time: T0 + 1,
            messageId: 'msg_a',
            state: 'DELIVERED',
            url: message.url,
            responseStatus: 200,
          },
        ],
        callbacks: [],
      });

      expect(stateOf('msg_a')).toBe('DELIVERED');
      expect(store.nextDueAt(T0)).toBeUndefined();
      expect(await eventStates('msg_a')).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
    });

    it('makes a retried message due at the retry time with the next attempt number', async () => {
      const retryAt = T0 + FIRST_BACKOFF_MS;

      await store.settleAttempt(retrySettlement(message, 0, retryAt));

      expect(stateOf('msg_a')).toBe('RETRY');
      expect(store.nextDueAt(T0)).toBe(retryAt);
      expect(claimedIds(retryAt - 1)).toEqual([]);
      expect(store.claimDue(retryAt, 10, retryAt + LEASE_MS).map((claim) => claim.retried)).toEqual(
        [1],
      );
      expect(await eventStates('msg_a')).toEqual(['CREATED', 'ACTIVE', 'ERROR', 'RETRY']);
    });

    it('marks a failed message FAILED, never due again, and stores its dead letter', async () => {
      const deadLetter: DeadLetter = {
        dlqId: `${T0 + 1}-0`,
        messageId: 'msg_a',
        failedAt: T0 + 1,
        responseStatus: 503,
        responseHeader: { 'Retry-After': ['10'] },
        responseBody: Uint8Array.from([0, 255, 10]),
        error: 'destination answered 503',
      };

      await store.settleAttempt({
        message,
        retried: 3,
        outcome: { kind: 'failed', deadLetter },
        events: [
          { time: T0, messageId: 'msg_a', state: 'ACTIVE', url: message.url },
          { time: T0 + 1, messageId: 'msg_a', state: 'FAILED', url: message.url, error: 'x' },
        ],
        callbacks: [],
      });

      expect(stateOf('msg_a')).toBe('FAILED');
      expect(store.nextDueAt(T0)).toBeUndefined();
      expect(db.prepare('SELECT * FROM dlq').all()).toEqual([
        {
          dlq_id: `${T0 + 1}-0`,
          message_id: 'msg_a',
          failed_at: T0 + 1,
          response_status: 503,
          fields: JSON.stringify({
            responseHeader: { 'Retry-After': ['10'] },
            error: 'destination answered 503',
          }),
          response_body: Buffer.from([0, 255, 10]),
        },
      ]);
    });

    it('makes callback messages due at their own time with a CREATED event', async () => {
      const callback: Message = makeMessage({
        messageId: 'msg_callback',
        notBefore: T0 + 2,
        createdAt: T0 + 2,
        callbackFor: { sourceMessageId: 'msg_a', kind: 'callback' },
      });

      await store.settleAttempt({
        ...retrySettlement(message, 0, T0 + FIRST_BACKOFF_MS),
        callbacks: [callback],
      });

      expect(store.nextDueAt(T0)).toBe(T0 + 2);
      expect(store.claimDue(T0 + 2, 10, T0 + LEASE_MS)).toEqual([
        { message: callback, retried: 0 },
      ]);
      expect(await eventStates('msg_callback')).toEqual(['CREATED']);
    });
  });

  describe('insertMessages', () => {
    it('stores none of the messages when one of them cannot be stored', async () => {
      await store.insertMessage(due('msg_taken', T0), undefined, T0);

      await expect(
        store.insertMessages(
          [{ message: due('msg_first', T0) }, { message: due('msg_taken', T0) }],
          T0,
        ),
        // Not toThrow(): better-sqlite3's native code builds its errors with the SqliteError of
        // the first jest sandbox that loaded it, so in a later test file they fail instanceof.
      ).rejects.toHaveProperty('code', 'SQLITE_CONSTRAINT_UNIQUE');
      expect(stateOf('msg_first')).toBeUndefined();
      expect(claimedIds(T0)).toEqual(['msg_taken']);
    });
  });

  describe('after a restart', () => {
    it('releases the leases of a process that died mid-attempt with releaseAll', async () => {
      await store.insertMessage(due('msg_a', T0), undefined, T0);
      await store.insertMessage(due('msg_b', T0 + 1), undefined, T0);
      await store.settleAttempt(retrySettlement(due('msg_b', T0 + 1), 0, T0 + 1));
      expect(claimedIds(T0 + 1)).toEqual(['msg_a', 'msg_b']);
      db.close(); // the crash: no settlement, no release

      open();
      expect(claimedIds(T0 + 1)).toEqual([]);
      const released = store.releaseAll();

      expect(released).toBe(2);
      expect(store.releaseAll()).toBe(0);
      expect(stateOf('msg_a')).toBe('CREATED');
      expect(stateOf('msg_b')).toBe('RETRY');
      const reclaimed = store.claimDue(T0 + 1, 10, T0 + 1 + LEASE_MS);
      expect(reclaimed.map((claim) => [claim.message.messageId, claim.retried])).toEqual([
        ['msg_a', 0],
        ['msg_b', 1],
      ]);
    });

    it('keeps messages, due times and dedup claims across close and reopen', async () => {
      const message = makeMessage({ messageId: 'msg_a', body: Uint8Array.from([1, 2, 3]) });
      const claim = { key: 'id:order-42', expiresAt: T0 + 60_000 };
      await store.insertMessage(message, claim, T0);
      await store.settleAttempt(retrySettlement(message, 0, T0 + FIRST_BACKOFF_MS));
      db.close();

      open();

      expect(await store.getMessage('msg_a')).toEqual({ ...message, body: Buffer.from([1, 2, 3]) });
      expect(store.nextDueAt(T0)).toBe(T0 + FIRST_BACKOFF_MS);
      expect(await store.insertMessage(makeMessage({ messageId: 'msg_b' }), claim, T0 + 1)).toEqual(
        {
          inserted: false,
          existingMessageId: 'msg_a',
        },
      );
    });
  });

  describe('openDatabase', () => {
    it('refuses a data directory another open database holds, with a clear error', () => {
      expect(() => openDatabase(dataDir, 'NORMAL')).toThrow(
        `${join(dataDir, DATABASE_FILE)} is in use by another sqstash process`,
      );
    });

    it('opens the directory again once the holder has closed it', () => {
      db.close();

      expect(() => open()).not.toThrow();
    });
  });
});

function retrySettlement(message: Message, retried: number, retryAt: number): AttemptSettlement {
  return {
    message,
    retried,
    outcome: { kind: 'retry', retryAt },
    events: [
      { time: T0, messageId: message.messageId, state: 'ACTIVE', url: message.url },
      { time: T0, messageId: message.messageId, state: 'ERROR', url: message.url, error: 'x' },
      {
        time: T0,
        messageId: message.messageId,
        state: 'RETRY',
        url: message.url,
        nextDeliveryTime: retryAt,
      },
    ],
    callbacks: [],
  };
}
