import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteFlowControl } from '../../lambdas/adapters/embedded/sqlite-flow-control';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { FlowControl } from '../../lambdas/core/flow-control';
import type { FlowControlDeps } from '../../lambdas/core/flow-control-keys';
import {
  getFlowControlKey,
  pinFlowControl,
  setFlowControlPaused,
  unpinFlowControl,
} from '../../lambdas/core/flow-control-keys';
import type { Message } from '../../lambdas/core/message';
import { fixedClock, makeMessage, T0 } from '../helpers/messages';
import { deliveredSettlement } from '../helpers/settlements';

const LEASE_MS = 60_000;
const SECOND_MS = 1_000;

/**
 * The embedded gate in the claim path: which flow-controlled messages a claim takes, and when the
 * worker must look again (never sooner than something can start: a blocked key is not polled).
 */
describe('SqliteFlowControl: the gate in the claim path', () => {
  let dataDir: string;
  let db: Database.Database;
  let store: SqliteMessageStore;
  let flowControl: SqliteFlowControl;
  let wakes: number;
  const clock = fixedClock(T0);
  let deps: FlowControlDeps;
  const published: Message[] = [];

  const open = (globalParallelism?: number) => {
    db = openDatabase(dataDir, 'NORMAL');
    wakes = 0;
    flowControl = new SqliteFlowControl(db, globalParallelism, () => {
      wakes += 1;
    });
    store = new SqliteMessageStore(db, () => {}, flowControl);
    deps = { flowControl, clock, config: DEFAULT_CORE_CONFIG };
  };
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-gate-'));
    clock.set(T0);
    published.length = 0;
    open();
  });
  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const publish = async (
    count: number,
    control: FlowControl | undefined,
    overrides: Partial<Message> = {},
  ) => {
    const start = published.length;
    for (let i = 0; i < count; i += 1) {
      const message = makeMessage({
        messageId: `msg_${start + i}`,
        url: `https://${(start + i) % 2 === 0 ? 'a' : 'b'}.example/hook`,
        flowControl: control,
        notBefore: T0,
        createdAt: clock.now(),
        ...overrides,
      });
      published.push(message);
      await store.insertMessage(message, undefined, clock.now());
    }
  };
  const claim = (nowMs: number, limit = 100) =>
    store.claimDue(nowMs, limit, nowMs + LEASE_MS).map((claimed) => claimed.message.messageId);
  const settle = async (messageId: string) => {
    const message = published.find((candidate) => candidate.messageId === messageId)!;
    await store.settleAttempt(deliveredSettlement(message, clock.now()));
  };

  it('starts at most parallelism attempts of a key across URLs, and the next when one settles', async () => {
    await publish(5, { key: 'k', parallelism: 2 });

    expect(claim(T0)).toEqual(['msg_0', 'msg_1']);
    expect(claim(T0)).toEqual([]);
    // Nothing can start until a settlement: the worker is not told to look again.
    expect(store.nextDueAt(T0)).toBeUndefined();

    await settle('msg_0');
    expect(claim(T0)).toEqual(['msg_2']);
  });

  it('starts at most rate attempts in any period, and says when the next may start', async () => {
    await publish(7, { key: 'k', rate: 5, periodSec: 1 });

    expect(claim(T0)).toHaveLength(5);
    expect(claim(T0 + 999)).toEqual([]);
    expect(store.nextDueAt(T0 + 999)).toBe(T0 + SECOND_MS);
    for (const id of ['msg_0', 'msg_1', 'msg_2', 'msg_3', 'msg_4']) await settle(id);
    // Settled attempts still count against the rate until they leave its window.
    expect(claim(T0 + 999)).toEqual([]);
    expect(claim(T0 + SECOND_MS)).toEqual(['msg_5', 'msg_6']);
  });

  it('keeps the rate across a restart: starts are stored', async () => {
    await publish(6, { key: 'k', rate: 5, periodSec: 60 });
    expect(claim(T0)).toHaveLength(5);

    db.close();
    open();
    expect(store.releaseAll()).toBe(5);

    // The five released are due again, but the key has started five this minute.
    expect(claim(T0 + SECOND_MS)).toEqual([]);
    expect(store.nextDueAt(T0 + SECOND_MS)).toBe(T0 + 60 * SECOND_MS);
  });

  it('frees the parallelism of attempts a restart gives back', async () => {
    await publish(3, { key: 'k', parallelism: 2 });
    expect(claim(T0)).toHaveLength(2);

    db.close();
    open();
    store.releaseAll();

    expect(claim(T0)).toHaveLength(2);
  });

  it('never lets a blocked key hold up other messages', async () => {
    await publish(50, { key: 'k', parallelism: 1 });
    await publish(1, undefined, { messageId: 'msg_plain', notBefore: T0 + 1 });

    expect(claim(T0, 1)).toEqual(['msg_0']);
    expect(claim(T0 + 1, 1)).toEqual(['msg_plain']);
  });

  it('starts nothing of a paused key, and its waiting messages once resumed', async () => {
    await setFlowControlPaused(deps, 'k', true);
    expect(wakes).toBe(1);
    await publish(2, { key: 'k', parallelism: 5 });

    expect(claim(T0)).toEqual([]);
    expect(store.nextDueAt(T0)).toBeUndefined();
    expect(await getFlowControlKey(deps, 'k')).toMatchObject({ isPaused: true, waitListSize: 2 });

    await setFlowControlPaused(deps, 'k', false);
    expect(wakes).toBe(2);
    expect(claim(T0)).toEqual(['msg_0', 'msg_1']);
  });

  it('applies a pin over what messages carry, and after an unpin carries it on until a newer message differs', async () => {
    await publish(10, { key: 'k', parallelism: 3 });
    await pinFlowControl(deps, 'k', { parallelism: 1 });

    expect(claim(T0)).toEqual(['msg_0']);
    await settle('msg_0');

    clock.set(T0 + 10);
    await unpinFlowControl(deps, 'k', { parallelism: true, rate: false });
    // Only messages from before the unpin are pending: the pinned value carries on.
    expect(claim(T0 + 10)).toEqual(['msg_1']);
    await settle('msg_1');

    clock.set(T0 + 20);
    await publish(1, { key: 'k', parallelism: 3 });
    expect(claim(T0 + 20)).toEqual(['msg_2', 'msg_3', 'msg_4']);
    expect(await getFlowControlKey(deps, 'k')).toMatchObject({
      parallelismMax: 3,
      isPinnedParallelism: false,
    });
  });

  it('raises a pinned rate at once, from a clean window', async () => {
    await publish(4, { key: 'k', rate: 1, periodSec: 60 });
    expect(claim(T0)).toEqual(['msg_0']);

    clock.set(T0 + 1);
    await pinFlowControl(deps, 'k', { rate: 3 });

    expect(claim(T0 + 1)).toEqual(['msg_1', 'msg_2', 'msg_3']);
    expect(await getFlowControlKey(deps, 'k')).toMatchObject({
      rateMax: 3,
      ratePeriod: 60,
      rateCount: 3,
      isPinnedRate: true,
    });
  });

  it('holds flow-controlled attempts over every key to the global parallelism', async () => {
    db.close();
    open(2);
    await publish(1, { key: 'a', parallelism: 5 });
    await publish(1, { key: 'b', parallelism: 5 });
    await publish(1, { key: 'c', parallelism: 5 });
    await publish(1, undefined, { messageId: 'msg_plain' });

    const first = claim(T0);
    expect(first).toHaveLength(3);
    expect(first).toContain('msg_plain');
    expect(store.nextDueAt(T0)).toBeUndefined();

    await settle(first.find((id) => id !== 'msg_plain')!);
    expect(claim(T0)).toHaveLength(1);
  });

  it('keeps a FIFO queue in order under its key, one start at a time', async () => {
    db.prepare(
      "INSERT INTO queues (name, parallelism, paused, created_at, updated_at) VALUES ('q', 3, 0, 0, 0)",
    ).run();
    await publish(3, { key: 'k', parallelism: 1 }, { queueName: 'q' });

    expect(claim(T0)).toEqual(['msg_0']);
    expect(store.nextDueAt(T0)).toBeUndefined();
    await settle('msg_0');
    expect(claim(T0)).toEqual(['msg_1']);
  });

  it('looks again at a delayed message of a key when it falls due', async () => {
    await publish(1, { key: 'k', parallelism: 1 }, { notBefore: T0 + 5_000 });

    expect(claim(T0)).toEqual([]);
    expect(store.nextDueAt(T0)).toBe(T0 + 5_000);
    expect(claim(T0 + 5_000)).toEqual(['msg_0']);
  });
});
