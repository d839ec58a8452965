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
  const claimWithin = (
    limit: number,
    inFlight: Record<string, number>,
    lookPastCapped = false,
    nowMs = T0,
  ) =>
    store.claimDueWithin(nowMs, limit, nowMs + LEASE_MS, {
      max: 2,
      inFlight: new Map(Object.entries(inFlight)),
      lookPastCapped,
    });
  const claim = (...args: Parameters<typeof claimWithin>) =>
    claimWithin(...args).claimed.map((claimed) => claimed.message.messageId);
  const dueTimes = () =>
    (
      db
        .prepare('SELECT due_at AS dueAt FROM messages WHERE due_at IS NOT NULL ORDER BY seq')
        .all() as { dueAt: number }[]
    ).map((row) => row.dueAt);

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

    expect(claim(10, { [SLOW]: 1 }, false, T0 + 20)).toEqual(['slow_1', 'fast_1']);
    expect(claim(10, { [SLOW]: 2 }, false, T0 + 20)).toEqual([]);
  });

  it('reaches past a capped backlog of any length when asked to, leaving the backlog as it was', async () => {
    for (let i = 1; i <= 300; i += 1) await insert(`slow_${i}`, `${SLOW}/${i}`, T0 + i);
    await insert('fast_1', `${FAST}/hook`, T0 + 1_000);
    const before = dueTimes();

    const withoutLooking = claimWithin(4, { [SLOW]: 2 }, false, T0 + 2_000);
    const lookingPast = claimWithin(4, { [SLOW]: 2 }, true, T0 + 2_000);

    expect(withoutLooking).toMatchObject({ claimed: [], passedOver: true });
    expect(lookingPast.claimed.map((claimed) => claimed.message.messageId)).toEqual(['fast_1']);
    expect(lookingPast.passedOver).toBe(true);
    expect(dueTimes()).toEqual(before);
    expect(claim(100, {}, false, T0 + 2_000)).toHaveLength(2);
  });

  it('says nothing was passed over when no origin is at its cap and all due were taken', async () => {
    await insert('slow_1', `${SLOW}/1`);
    await insert('fast_1', `${FAST}/hook`);

    expect(claimWithin(10, {}, true, T0)).toMatchObject({ passedOver: false });
  });
});
