import type { SqliteRetention as Retention } from '../../lambdas/adapters/embedded/sqlite-retention';
import { SqliteRetention } from '../../lambdas/adapters/embedded/sqlite-retention';
import { SqliteWorkflowRunStore } from '../../lambdas/adapters/embedded/sqlite-workflow-run-store';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { FlowControl } from '../../lambdas/core/flow-control';
import type { FlowControlDeps } from '../../lambdas/core/flow-control-keys';
import {
  getFlowControlKey,
  listFlowControlKeys,
  pinFlowControl,
  setFlowControlPaused,
  unpinFlowControl,
} from '../../lambdas/core/flow-control-keys';
import type { WorkflowRun } from '../../lambdas/core/workflow/workflow-run';
import { fixedClock, makeMessage, T0 } from '../helpers/messages';
import { deadLetterOf, deliveredSettlement, failedSettlement } from '../helpers/settlements';
import { makeSqliteStores } from './sqlite-stores';

const LEASE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describe('SqliteRetention', () => {
  let stores: Awaited<ReturnType<typeof makeSqliteStores>>;
  let retention: Retention;

  beforeEach(async () => {
    stores = await makeSqliteStores();
    retention = new SqliteRetention(stores.db);
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  const loggedIds = async () =>
    (
      await stores.events.listEvents({ filter: {}, order: 'earliestFirst', count: 1_000 })
    ).items.map((record) => `${record.event.messageId} ${record.event.state}`);

  async function deliver(messageId: string, atMs: number) {
    const message = makeMessage({ messageId, notBefore: atMs, createdAt: atMs });
    await stores.messages.insertMessage(message, undefined, atMs);
    stores.messages.claimDue(atMs, 1_000, atMs + LEASE_MS);
    await stores.messages.settleAttempt(deliveredSettlement(message, atMs + 1));
  }

  it('removes messages that finished before the cutoff with their events, and keeps the later ones', async () => {
    await deliver('msg_old', T0);
    await deliver('msg_new', T0 + 2 * HOUR_MS);

    const swept = retention.sweepBatch(T0 + HOUR_MS, T0 + 3 * HOUR_MS);

    expect(swept).toMatchObject({ messages: 1, more: false });
    expect(await loggedIds()).toEqual(['msg_new CREATED', 'msg_new ACTIVE', 'msg_new DELIVERED']);
  });

  it('never removes a pending message, however old, nor one in flight', async () => {
    await stores.messages.insertMessage(makeMessage({ messageId: 'msg_waiting' }), undefined, T0);
    await stores.messages.insertMessage(
      makeMessage({ messageId: 'msg_in_flight', notBefore: T0 }),
      undefined,
      T0,
    );
    stores.messages.claimDue(T0, 1, T0 + LEASE_MS);

    expect(retention.sweepBatch(T0 + 1_000 * HOUR_MS, T0 + 1_000 * HOUR_MS).messages).toBe(0);
    expect(await stores.messages.getPendingMessage('msg_waiting')).toBeDefined();
    expect(await stores.messages.getPendingMessage('msg_in_flight')).toBeDefined();
  });

  it('removes dead letters with their failed message once older than the cutoff', async () => {
    const message = makeMessage({ messageId: 'msg_failed' });
    await stores.messages.insertMessage(message, undefined, T0);
    stores.messages.claimDue(T0, 1, T0 + LEASE_MS);
    await stores.messages.settleAttempt(
      failedSettlement(message, deadLetterOf(message, `${T0 + 1}-0`, T0 + 1)),
    );

    expect(retention.sweepBatch(T0, T0).deadLetters).toBe(0);
    expect(retention.sweepBatch(T0 + 2, T0 + 2)).toMatchObject({ messages: 1, deadLetters: 1 });
    expect(await stores.deadLetters.getDeadLetter(`${T0 + 1}-0`)).toBeUndefined();
    expect(await loggedIds()).toEqual([]);
  });

  it('removes dedup claims past their window, whatever the retention, and keeps the others', async () => {
    const claim = (key: string, expiresAt: number) => ({ key, expiresAt });
    await stores.messages.insertMessage(
      makeMessage({ messageId: 'msg_a' }),
      claim('a', T0 + 10),
      T0,
    );
    await stores.messages.insertMessage(
      makeMessage({ messageId: 'msg_b' }),
      claim('b', T0 + 99),
      T0,
    );
    stores.db
      .prepare('INSERT INTO schedule_dedup_keys (key, schedule_id, expires_at) VALUES (?, ?, ?)')
      .run('s', 'scd_1', T0 + 10);

    expect(retention.sweepBatch(0, T0 + 50).dedupKeys).toBe(2);
    const again = (key: string, id: string) =>
      stores.messages.insertMessage(makeMessage({ messageId: id }), claim(key, T0 + 200), T0 + 50);
    expect(await again('a', 'msg_a2')).toEqual({ inserted: true });
    expect(await again('b', 'msg_b2')).toEqual({ inserted: false, existingMessageId: 'msg_b' });
  });

  it('works through a backlog in short batches, each saying whether more is left', async () => {
    for (let index = 0; index < 1_200; index += 1) await deliver(`msg_${index}`, T0 + index);

    const batches = [];
    for (let more = true; more; ) {
      const batch = retention.sweepBatch(T0 + HOUR_MS, T0 + HOUR_MS);
      batches.push(batch);
      more = batch.more;
    }

    expect(batches.length).toBeGreaterThan(1);
    expect(batches.reduce((sum, batch) => sum + batch.messages, 0)).toBe(1_200);
    expect(await loggedIds()).toEqual([]);
  });

  it('hands free pages beyond a quarter of the file back to the file system', async () => {
    const body = new Uint8Array(3_000);
    for (let index = 0; index < 1_000; index += 1) {
      const message = makeMessage({ messageId: `msg_${index}`, body, notBefore: T0 });
      await stores.messages.insertMessage(message, undefined, T0);
      stores.messages.claimDue(T0, 1, T0 + LEASE_MS);
      await stores.messages.settleAttempt(deliveredSettlement(message, T0 + 1));
    }
    const pages = () => stores.db.pragma('page_count', { simple: true }) as number;
    const before = pages();

    let freed = 0;
    for (let more = true; more; ) {
      const batch = retention.sweepBatch(T0 + HOUR_MS, T0 + HOUR_MS);
      freed += batch.freedPages;
      more = batch.more;
    }

    expect(freed).toBeGreaterThan(before / 2);
    expect(pages()).toBeLessThan(before / 2);
    const free = stores.db.pragma('freelist_count', { simple: true }) as number;
    expect(free).toBeLessThanOrEqual(Math.ceil(pages() / 4));
  });

  describe('flow control', () => {
    const clock = fixedClock(T0);
    const deps = (): FlowControlDeps => ({
      flowControl: stores.flowControl,
      clock,
      config: DEFAULT_CORE_CONFIG,
    });
    const publish = (messageId: string, flowControl: FlowControl, notBefore = T0) =>
      stores.messages.insertMessage(
        makeMessage({ messageId, flowControl, notBefore, createdAt: T0 }),
        undefined,
        T0,
      );
    const claim = (nowMs: number) =>
      stores.messages
        .claimDue(nowMs, 100, nowMs + LEASE_MS)
        .map((claimed) => claimed.message.messageId);
    const keyNames = async () =>
      (await listFlowControlKeys(deps(), undefined)).map((key) => key.flowControlKey);
    beforeEach(() => clock.set(T0));

    it('removes attempt starts older than the longest rate period, and keeps those a rate may count', async () => {
      const weekly = { key: 'weekly', rate: 10, periodSec: 7 * 24 * 3_600 };
      await publish('msg_1', weekly);
      await publish('msg_2', weekly, T0 + 2 * DAY_MS);
      // Keeps the key pending throughout.
      await publish('msg_3', weekly, T0 + 30 * DAY_MS);
      expect(claim(T0)).toEqual(['msg_1']);
      expect(claim(T0 + 2 * DAY_MS)).toEqual(['msg_2']);

      clock.set(T0 + 8 * DAY_MS);
      const swept = retention.sweepBatch(T0 + 8 * DAY_MS - HOUR_MS, T0 + 8 * DAY_MS);

      expect(swept).toMatchObject({ flowControlStarts: 1, flowControlKeys: 0, messages: 0 });
      expect(await getFlowControlKey(deps(), 'weekly')).toMatchObject({
        rateCount: 1,
        waitListSize: 0,
      });
    });

    it('forgets a key idle since before the cutoff that nothing holds, and keeps a paused or pinned one', async () => {
      // A value carried over from an unpin is all that is left of this key once its message is delivered.
      await publish('msg_1', { key: 'carried', parallelism: 2 });
      // After the message's creation: the carried value is not replaced by what it carries.
      clock.set(T0 + 1);
      await pinFlowControl(deps(), 'carried', { parallelism: 5 });
      await unpinFlowControl(deps(), 'carried', { parallelism: true, rate: false });
      const delivered = await stores.messages.getMessage('msg_1');
      expect(claim(T0)).toEqual(['msg_1']);
      await stores.messages.settleAttempt(deliveredSettlement(delivered!, T0 + 1));
      // The worker's next claim looks at the key once more (a settlement wakes it).
      expect(claim(T0 + 2)).toEqual([]);
      await setFlowControlPaused(deps(), 'paused', true);
      await pinFlowControl(deps(), 'pinned', { rate: 3 });
      expect(await keyNames()).toEqual(['carried', 'paused', 'pinned']);

      expect(retention.sweepBatch(T0, T0 + DAY_MS).flowControlKeys).toBe(0);
      expect(retention.sweepBatch(T0 + 10, T0 + DAY_MS).flowControlKeys).toBe(1);
      expect(await keyNames()).toEqual(['paused', 'pinned']);
    });

    it('never forgets a key with a pending message, however old, nor removes its messages', async () => {
      await publish('msg_1', { key: 'k', parallelism: 1 });
      await publish('msg_2', { key: 'k', parallelism: 1 });
      expect(claim(T0)).toEqual(['msg_1']);

      const later = T0 + 1_000 * DAY_MS;
      clock.set(later);
      expect(retention.sweepBatch(later, later)).toMatchObject({ flowControlKeys: 0, messages: 0 });
      expect(await getFlowControlKey(deps(), 'k')).toMatchObject({
        waitListSize: 1,
        parallelismCount: 1,
      });
      expect(await stores.messages.getPendingMessage('msg_2')).toBeDefined();
    });
  });

  describe('workflow runs', () => {
    let runs: SqliteWorkflowRunStore;
    beforeEach(() => {
      runs = new SqliteWorkflowRunStore(stores.db);
    });
    const open = async (runId: string) => {
      const run: WorkflowRun = {
        runId,
        url: 'https://app.example.com/api/workflow',
        createdAt: T0,
        state: 'RUN_STARTED',
        labels: [],
        configHeaders: {},
        triggerHeader: {},
        triggerMessageId: `msg_${runId}`,
      };
      const body = new TextEncoder().encode('{}');
      await runs.createRun(run, [
        { messageId: `msg_${runId}`, callType: 'step', body, createdAt: T0 },
      ]);
      // Kept since after the cutoff below: it goes with its run, not for its age.
      await runs.putNotification({
        runId,
        eventId: 'paid',
        data: body,
        createdAt: T0 + 3 * HOUR_MS,
      });
    };
    const rowsOf = (runId: string) =>
      ['workflow_runs', 'workflow_run_messages', 'workflow_notifications'].map(
        (table) =>
          (
            stores.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`).get(runId) as {
              n: number;
            }
          ).n,
      );

    it('removes runs ended before the cutoff with their steps and notifications, and never a started one', async () => {
      for (const runId of ['wfr_done', 'wfr_canceled', 'wfr_failed', 'wfr_later', 'wfr_running']) {
        await open(runId);
      }
      await runs.endRun('wfr_done', { state: 'RUN_SUCCESS', at: T0 + HOUR_MS });
      await runs.endRun('wfr_canceled', { state: 'RUN_CANCELED', at: T0 + HOUR_MS });
      await runs.markRunFailed('wfr_failed', { dlqId: 'dlq_1', at: T0 + HOUR_MS });
      await runs.endRun('wfr_later', { state: 'RUN_SUCCESS', at: T0 + 3 * HOUR_MS });

      const swept = retention.sweepBatch(T0 + 2 * HOUR_MS, T0 + 1_000 * DAY_MS);

      expect(swept).toMatchObject({ workflowRuns: 3, workflowNotifications: 3 });
      for (const runId of ['wfr_done', 'wfr_canceled', 'wfr_failed']) {
        expect(await runs.getRun(runId)).toBeUndefined();
        expect(rowsOf(runId)).toEqual([0, 0, 0]);
      }
      expect(await runs.getRun('wfr_later')).toMatchObject({ completedAt: T0 + 3 * HOUR_MS });
      expect(rowsOf('wfr_later')).toEqual([1, 1, 1]);
      expect(await runs.getRun('wfr_running')).toMatchObject({ state: 'RUN_STARTED' });
      expect(rowsOf('wfr_running')).toEqual([1, 1, 1]);
    });

    it('removes a notification kept past the cutoff for a run that never waited for it', async () => {
      const data = new TextEncoder().encode('late');
      await runs.putNotification({ runId: 'wfr_never', eventId: 'e', data, createdAt: T0 });
      await runs.putNotification({
        runId: 'wfr_never',
        eventId: 'e',
        data,
        createdAt: T0 + DAY_MS,
      });

      expect(retention.sweepBatch(T0 + HOUR_MS, T0 + 2 * DAY_MS).workflowNotifications).toBe(1);
      expect(await runs.takeNotification('wfr_never', 'e', false)).toMatchObject({
        createdAt: T0 + DAY_MS,
      });
    });
  });
});
