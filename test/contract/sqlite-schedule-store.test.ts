import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteScheduleStore } from '../../lambdas/adapters/embedded/sqlite-schedule-store';
import { T0 } from '../helpers/messages';
import { describeScheduleStoreContract, makeSchedule } from './schedule-store.contract';

const MINUTE_MS = 60_000;

function openTemp(): { dataDir: string; db: Database.Database } {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-schedules-'));
  return { dataDir, db: openDatabase(dataDir, 'NORMAL') };
}

describeScheduleStoreContract('SqliteScheduleStore', async () => {
  const { dataDir, db } = openTemp();
  return {
    store: new SqliteScheduleStore(db),
    cleanup: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describe('Class: SqliteScheduleStore (the runner queries)', () => {
  let dataDir: string;
  let db: Database.Database;
  let store: SqliteScheduleStore;

  beforeEach(async () => {
    ({ dataDir, db } = openTemp());
    store = new SqliteScheduleStore(db);
    await store.putSchedule(
      makeSchedule({ scheduleId: 'late', nextScheduleTime: T0 + 2 * MINUTE_MS }),
      undefined,
      T0,
    );
    await store.putSchedule(
      makeSchedule({ scheduleId: 'soon', nextScheduleTime: T0 + MINUTE_MS }),
      undefined,
      T0,
    );
    const { nextScheduleTime: _none, ...paused } = makeSchedule({
      scheduleId: 'paused',
      isPaused: true,
    });
    await store.putSchedule(paused, undefined, T0);
  });
  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists the running schedules due by a time, the most overdue first', () => {
    expect(store.dueSchedules(T0).map((s) => s.scheduleId)).toEqual([]);
    expect(store.dueSchedules(T0 + MINUTE_MS).map((s) => s.scheduleId)).toEqual(['soon']);
    expect(store.dueSchedules(T0 + 3 * MINUTE_MS).map((s) => s.scheduleId)).toEqual([
      'soon',
      'late',
    ]);
  });

  it('answers the earliest next tick of a running schedule, overall and after a time', async () => {
    expect(store.nextScheduleTimeAfter()).toBe(T0 + MINUTE_MS);
    expect(store.nextScheduleTimeAfter(T0 + MINUTE_MS)).toBe(T0 + 2 * MINUTE_MS);
    expect(store.nextScheduleTimeAfter(T0 + 2 * MINUTE_MS)).toBeUndefined();

    await store.setPaused('soon', true, undefined);

    expect(store.nextScheduleTimeAfter()).toBe(T0 + 2 * MINUTE_MS);
  });

  it('survives a reopen of the database', async () => {
    db.close();
    db = openDatabase(dataDir, 'NORMAL');
    store = new SqliteScheduleStore(db);

    expect((await store.listSchedules()).map((s) => s.scheduleId).sort()).toEqual([
      'late',
      'paused',
      'soon',
    ]);
  });
});
