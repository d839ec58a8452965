import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { originOf, SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { makeMessage, T0 } from '../helpers/messages';

const LEASE_MS = 30_000;
const SLOW = 'http://slow.test:8080';
const FAST = 'https://fast.test';

describe('SqliteMessageStore: claimDueWithin (per-destination cap)', () => {
  let dataDir: string;
  let db: Database.Database;
  let store: SqliteMessageStore;

  const insert = (messageId: string, url: string, notBefore = T0) =>
    store.insertMessage(makeMessage({ messageId, url, notBefore }), undefined, T0);
  const claim = (limit: number, inFlight: Record<string, number>, lookahead = 0, nowMs = T0) =>
    store
      .claimDueWithin(nowMs, limit, nowMs + LEASE_MS, {
        max: 2,
        inFlight: new Map(Object.entries(inFlight)),
        lookahead,
      })
      .claimed.map((claimed) => claimed.message.messageId);

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-fair-'));
    db = openDatabase(dataDir, 'NORMAL');
    store = new SqliteMessageStore(db);
  });
  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('names an origin by scheme, host and port, lowercased', () => {
    expect(originOf('HTTP://Slow.Test:8080/a/b?c=d#e')).toBe('http://slow.test:8080');
    expect(originOf('https://fast.test?x=1')).toBe('https://fast.test');
  });

  it('takes at most the cap per origin, counting attempts already in flight', async () => {
    for (let i = 1; i <= 5; i += 1) await insert(`slow_${i}`, `${SLOW}/hook/${i}`, T0 + i);
    await insert('fast_1', `${FAST}/hook`, T0 + 10);

    expect(claim(10, { [SLOW]: 1 }, 0, T0 + 20)).toEqual(['slow_1', 'fast_1']);
    expect(claim(10, { [SLOW]: 2 }, 0, T0 + 20)).toEqual([]);
  });

  it('reaches past a capped backlog within the lookahead, leaving the backlog due', async () => {
    for (let i = 1; i <= 50; i += 1) await insert(`slow_${i}`, `${SLOW}/${i}`, T0 + i);
    await insert('fast_1', `${FAST}/hook`, T0 + 100);

    const withoutLookahead = claim(4, { [SLOW]: 2 }, 0, T0 + 200);
    const withLookahead = claim(4, { [SLOW]: 2 }, 100, T0 + 200);

    expect(withoutLookahead).toEqual([]);
    expect(withLookahead).toEqual(['fast_1']);
    expect(claim(100, {}, 0, T0 + 200)).toHaveLength(2);
  });

  it('moves a capped backlog that fills the lookahead behind the messages due now', async () => {
    for (let i = 1; i <= 30; i += 1) await insert(`slow_${i}`, `${SLOW}/${i}`, T0 + i);
    await insert('fast_1', `${FAST}/hook`, T0 + 100);
    const now = T0 + 200;

    // The first look sees only slow messages: it finds nothing, and moves them to `now`.
    expect(claim(2, { [SLOW]: 2 }, 10, now)).toEqual([]);
    expect(claim(2, { [SLOW]: 2 }, 10, now)).toEqual([]);
    expect(claim(2, { [SLOW]: 2 }, 10, now)).toEqual(['fast_1']);
    // Still due, none lost: the slow origin gets its messages as soon as it has room again.
    const due = db
      .prepare('SELECT COUNT(*) AS n FROM messages WHERE due_at <= ? AND lease_until IS NULL')
      .get(now) as { n: number };
    expect(due.n).toBe(30);
    expect(claim(100, {}, 0, now)).toHaveLength(2);
  });
});
