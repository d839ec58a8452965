import type Database from 'better-sqlite3';
import type {
  WorkflowCallType,
  WorkflowNotification,
  WorkflowRun,
  WorkflowRunState,
  WorkflowStep,
  WorkflowWaiter,
} from '../../core/workflow/workflow-run';
import type { Page } from '../../ports/listing';
import type {
  NewWorkflowStep,
  WaiterClaim,
  WorkflowRunEnd,
  WorkflowRunFailure,
  WorkflowRunFilter,
  WorkflowRunQuery,
  WorkflowRunStore,
} from '../../ports/workflow-run-store';
import type { SqlCondition } from './sqlite-listing';
import { afterPosition, decodeCursor, inList, orderBy, pageOf, whereAll } from './sqlite-listing';
import { writeTransaction } from './sqlite-transaction';

type RunRow = {
  runId: string;
  url: string;
  createdAt: number;
  state: WorkflowRunState;
  callerIp: string | null;
  labels: string;
  dlqId: string | null;
  completedAt: number | null;
  fields: string;
};
type StepRow = {
  seq: number;
  messageId: string;
  callType: WorkflowCallType;
  body: Buffer;
  createdAt: number;
};
type WaiterRow = { fields: string; claimedBy: string | null };
type NotificationRow = {
  seq: number;
  runId: string;
  eventId: string;
  data: Buffer;
  createdAt: number;
  webhook: number;
};

/** The run fields kept as JSON: those no query filters on. */
type RunFields = Omit<
  WorkflowRun,
  'runId' | 'url' | 'createdAt' | 'state' | 'callerIp' | 'labels' | 'dlqId' | 'completedAt'
>;

const RUN_COLUMNS = `run_id AS runId, url, created_at AS createdAt, state, caller_ip AS callerIp,
  labels, dlq_id AS dlqId, completed_at AS completedAt, fields`;
const ENDABLE: readonly WorkflowRunState[] = ['RUN_STARTED', 'RUN_FAILED'];

/**
 * The workflow run registry in the embedded runtime's SQLite file. better-sqlite3 is
 * synchronous, so each method is one transaction.
 */
export class SqliteWorkflowRunStore implements WorkflowRunStore {
  readonly #db: Database.Database;
  readonly #statements;
  readonly #createRun: (run: WorkflowRun, steps: readonly NewWorkflowStep[]) => boolean;
  readonly #endRun: (runId: string, end: WorkflowRunEnd) => WorkflowRun | undefined;
  readonly #appendStep: (runId: string, step: NewWorkflowStep) => number;
  readonly #claimWaiter: (waiterId: string, messageId: string) => WaiterClaim;
  readonly #takeNotification: (
    runId: string,
    eventId: string,
    webhook: boolean,
  ) => NotificationRow | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
    const statements = {
      insertRun: db.prepare(
        `INSERT INTO workflow_runs
           (run_id, url, created_at, state, caller_ip, labels, dlq_id, completed_at, fields)
         VALUES (@runId, @url, @createdAt, @state, @callerIp, @labels, @dlqId, @completedAt, @fields)
         ON CONFLICT (run_id) DO NOTHING`,
      ),
      getRun: db.prepare(`SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE run_id = ?`),
      updateRun: db.prepare(
        `UPDATE workflow_runs SET state = @state, dlq_id = @dlqId, completed_at = @completedAt,
           fields = @fields WHERE run_id = @runId`,
      ),
      addMessage: db.prepare(
        `INSERT INTO workflow_run_messages (run_id, message_id, created_at) VALUES (?, ?, ?)
         ON CONFLICT (run_id, message_id) DO NOTHING`,
      ),
      messageIds: db.prepare(
        `SELECT message_id AS messageId FROM workflow_run_messages
         WHERE run_id = ? ORDER BY created_at, rowid`,
      ),
      stepSeq: db.prepare(
        'SELECT seq FROM workflow_run_messages WHERE run_id = ? AND message_id = ? AND seq IS NOT NULL',
      ),
      nextSeq: db.prepare(
        'SELECT COALESCE(MAX(seq), -1) + 1 AS seq FROM workflow_run_messages WHERE run_id = ?',
      ),
      putStep: db.prepare(
        `INSERT INTO workflow_run_messages (run_id, message_id, created_at, seq, call_type, body)
         VALUES (@runId, @messageId, @createdAt, @seq, @callType, @body)
         ON CONFLICT (run_id, message_id) DO UPDATE SET
           seq = excluded.seq, call_type = excluded.call_type, body = excluded.body`,
      ),
      steps: db.prepare(
        `SELECT seq, message_id AS messageId, call_type AS callType, body, created_at AS createdAt
         FROM workflow_run_messages WHERE run_id = ? AND seq IS NOT NULL AND seq <= ? ORDER BY seq`,
      ),
      putWaiter: db.prepare(
        `INSERT INTO workflow_waiters (waiter_id, run_id, event_id, created_at, claimed_by, fields)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (waiter_id) DO NOTHING`,
      ),
      getWaiter: db.prepare(
        'SELECT fields, claimed_by AS claimedBy FROM workflow_waiters WHERE waiter_id = ?',
      ),
      waitersOfEvent: db.prepare(
        `SELECT fields, claimed_by AS claimedBy FROM workflow_waiters
         WHERE event_id = @eventId AND claimed_by IS NULL AND (@runId IS NULL OR run_id = @runId)
         ORDER BY created_at, waiter_id`,
      ),
      claimWaiter: db.prepare(
        'UPDATE workflow_waiters SET claimed_by = ? WHERE waiter_id = ? AND claimed_by IS NULL',
      ),
      deleteWaiters: db.prepare('DELETE FROM workflow_waiters WHERE run_id = ?'),
      putNotification: db.prepare(
        `INSERT INTO workflow_notifications (run_id, event_id, created_at, webhook, data)
         VALUES (?, ?, ?, ?, ?)`,
      ),
      oldestNotification: db.prepare(
        `SELECT seq, run_id AS runId, event_id AS eventId, data, created_at AS createdAt, webhook
         FROM workflow_notifications WHERE run_id = ? AND event_id = ? AND webhook = ?
         ORDER BY seq LIMIT 1`,
      ),
      deleteNotification: db.prepare('DELETE FROM workflow_notifications WHERE seq = ?'),
      deleteNotifications: db.prepare('DELETE FROM workflow_notifications WHERE run_id = ?'),
    };
    this.#statements = statements;

    this.#createRun = writeTransaction(
      db,
      (run: WorkflowRun, steps: readonly NewWorkflowStep[]) => {
        const created = statements.insertRun.run(runParams(run)).changes > 0;
        if (created) {
          for (const [seq, step] of steps.entries()) {
            statements.putStep.run(stepParams(run.runId, step, seq));
          }
        }
        return created;
      },
    );
    this.#endRun = writeTransaction(db, (runId: string, end: WorkflowRunEnd) => {
      const run = this.#readRun(runId);
      if (!run || !ENDABLE.includes(run.state)) return undefined;
      const ended: WorkflowRun = {
        ...run,
        state: end.state,
        completedAt: end.at,
        ...(end.result !== undefined && { result: end.result }),
      };
      statements.updateRun.run(runParams(ended));
      return ended;
    });
    this.#appendStep = writeTransaction(db, (runId: string, step: NewWorkflowStep) => {
      const existing = statements.stepSeq.get(runId, step.messageId) as { seq: number } | undefined;
      if (existing) return existing.seq;
      const { seq } = statements.nextSeq.get(runId) as { seq: number };
      statements.putStep.run(stepParams(runId, step, seq));
      return seq;
    });
    this.#claimWaiter = writeTransaction(db, (waiterId: string, messageId: string) => {
      const row = statements.getWaiter.get(waiterId) as WaiterRow | undefined;
      if (!row) return 'missing';
      if (row.claimedBy === messageId) return 'claimed';
      if (row.claimedBy !== null) return 'taken';
      statements.claimWaiter.run(messageId, waiterId);
      return 'claimed';
    });
    this.#takeNotification = writeTransaction(
      db,
      (runId: string, eventId: string, webhook: boolean) => {
        const row = statements.oldestNotification.get(runId, eventId, webhook ? 1 : 0) as
          | NotificationRow
          | undefined;
        if (row) statements.deleteNotification.run(row.seq);
        return row;
      },
    );
  }

  #readRun(runId: string): WorkflowRun | undefined {
    const row = this.#statements.getRun.get(runId) as RunRow | undefined;
    return row && runFromRow(row);
  }

  async createRun(run: WorkflowRun, steps: readonly NewWorkflowStep[]): Promise<boolean> {
    return this.#createRun(run, steps);
  }

  async getRun(runId: string): Promise<WorkflowRun | undefined> {
    return this.#readRun(runId);
  }

  async listRuns(query: WorkflowRunQuery): Promise<Page<WorkflowRun>> {
    const conditions = runFilterSql(query.filter);
    if (query.cursor !== undefined) {
      conditions.push(
        afterPosition(decodeCursor(query.cursor), 'latestFirst', 'created_at', 'run_id'),
      );
    }
    const where = whereAll(conditions);
    const rows = this.#db
      .prepare(
        `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE ${where.sql}
         ${orderBy('latestFirst', 'created_at', 'run_id')} LIMIT ?`,
      )
      .all(...where.params, query.count + 1) as RunRow[];
    const page = pageOf(rows, query.count, (row) => ({ time: row.createdAt, key: row.runId }));
    return {
      items: page.rows.map(runFromRow),
      ...(page.cursor !== undefined && { cursor: page.cursor }),
    };
  }

  async endRun(runId: string, end: WorkflowRunEnd): Promise<WorkflowRun | undefined> {
    return this.#endRun(runId, end);
  }

  async markRunFailed(runId: string, failure: WorkflowRunFailure): Promise<void> {
    writeTransaction(this.#db, () => {
      const run = this.#readRun(runId);
      if (run?.state === 'RUN_FAILED' && run.dlqId === failure.dlqId) {
        if (failure.failureCallbackMessageId !== undefined) {
          this.#statements.updateRun.run(
            runParams({ ...run, failureCallbackMessageId: failure.failureCallbackMessageId }),
          );
        }
        return;
      }
      if (run?.state !== 'RUN_STARTED') return;
      this.#statements.updateRun.run(
        runParams({
          ...run,
          state: 'RUN_FAILED',
          completedAt: failure.at,
          dlqId: failure.dlqId,
          ...(failure.failureCallbackMessageId !== undefined && {
            failureCallbackMessageId: failure.failureCallbackMessageId,
          }),
        }),
      );
    })();
  }

  async addMessage(runId: string, messageId: string, createdAt: number): Promise<void> {
    this.#statements.addMessage.run(runId, messageId, createdAt);
  }

  async listMessageIds(runId: string): Promise<string[]> {
    const rows = this.#statements.messageIds.all(runId) as { messageId: string }[];
    return rows.map((row) => row.messageId);
  }

  async appendStep(runId: string, step: NewWorkflowStep): Promise<number> {
    return this.#appendStep(runId, step);
  }

  async listSteps(runId: string, throughSeq?: number): Promise<WorkflowStep[]> {
    const rows = this.#statements.steps.all(
      runId,
      throughSeq ?? Number.MAX_SAFE_INTEGER,
    ) as StepRow[];
    return rows.map((row) => ({ ...row, body: new Uint8Array(row.body) }));
  }

  async putWaiter(waiter: WorkflowWaiter): Promise<void> {
    const { claimedBy, ...fields } = waiter;
    this.#statements.putWaiter.run(
      waiter.waiterId,
      waiter.runId,
      waiter.eventId,
      waiter.createdAt,
      claimedBy ?? null,
      JSON.stringify(fields),
    );
  }

  async getWaiter(waiterId: string): Promise<WorkflowWaiter | undefined> {
    const row = this.#statements.getWaiter.get(waiterId) as WaiterRow | undefined;
    return row && waiterFromRow(row);
  }

  async listWaiters(eventId: string, runId?: string): Promise<WorkflowWaiter[]> {
    const rows = this.#statements.waitersOfEvent.all({
      eventId,
      runId: runId ?? null,
    }) as WaiterRow[];
    return rows.map(waiterFromRow);
  }

  async claimWaiter(waiterId: string, messageId: string): Promise<WaiterClaim> {
    return this.#claimWaiter(waiterId, messageId);
  }

  async putNotification(notification: WorkflowNotification): Promise<void> {
    this.#statements.putNotification.run(
      notification.runId,
      notification.eventId,
      notification.createdAt,
      notification.webhook ? 1 : 0,
      notification.data,
    );
  }

  async takeNotification(
    runId: string,
    eventId: string,
    webhook: boolean,
  ): Promise<WorkflowNotification | undefined> {
    const row = this.#takeNotification(runId, eventId, webhook);
    return (
      row && {
        runId: row.runId,
        eventId: row.eventId,
        data: new Uint8Array(row.data),
        createdAt: row.createdAt,
        ...(row.webhook === 1 && { webhook: true }),
      }
    );
  }

  async deleteWaits(runId: string): Promise<void> {
    writeTransaction(this.#db, () => {
      this.#statements.deleteWaiters.run(runId);
      this.#statements.deleteNotifications.run(runId);
    })();
  }
}

function runParams(run: WorkflowRun): Record<string, unknown> {
  const { runId, url, createdAt, state, callerIp, labels, dlqId, completedAt, ...fields } = run;
  return {
    runId,
    url,
    createdAt,
    state,
    callerIp: callerIp ?? null,
    labels: JSON.stringify(labels),
    dlqId: dlqId ?? null,
    completedAt: completedAt ?? null,
    fields: JSON.stringify(fields satisfies RunFields),
  };
}

function runFromRow(row: RunRow): WorkflowRun {
  return {
    ...(JSON.parse(row.fields) as RunFields),
    runId: row.runId,
    url: row.url,
    createdAt: row.createdAt,
    state: row.state,
    labels: JSON.parse(row.labels) as string[],
    ...(row.callerIp !== null && { callerIp: row.callerIp }),
    ...(row.dlqId !== null && { dlqId: row.dlqId }),
    ...(row.completedAt !== null && { completedAt: row.completedAt }),
  };
}

function stepParams(runId: string, step: NewWorkflowStep, seq: number): Record<string, unknown> {
  return {
    runId,
    messageId: step.messageId,
    createdAt: step.createdAt,
    seq,
    callType: step.callType,
    body: step.body,
  };
}

function waiterFromRow(row: WaiterRow): WorkflowWaiter {
  const fields = JSON.parse(row.fields) as Omit<WorkflowWaiter, 'claimedBy'>;
  return row.claimedBy === null ? fields : { ...fields, claimedBy: row.claimedBy };
}

function runFilterSql(filter: WorkflowRunFilter): SqlCondition[] {
  const conditions: SqlCondition[] = [];
  const lists: [readonly unknown[] | undefined, string][] = [
    [filter.runIds, 'run_id'],
    [filter.urls, 'url'],
    [filter.states, 'state'],
    [filter.callerIps, 'caller_ip'],
  ];
  for (const [values, column] of lists) {
    if (values !== undefined) conditions.push(inList(column, values));
  }
  if (filter.urlPrefixes !== undefined) {
    conditions.push({
      sql: filter.urlPrefixes.map(() => 'substr(url, 1, length(?)) = ?').join(' OR ') || '0',
      params: filter.urlPrefixes.flatMap((prefix) => [prefix, prefix]),
    });
  }
  if (filter.labels !== undefined) {
    const labels = inList('value', filter.labels);
    conditions.push({
      sql: `EXISTS (SELECT 1 FROM json_each(labels) WHERE ${labels.sql})`,
      params: labels.params,
    });
  }
  if (filter.createdAt !== undefined) {
    conditions.push({ sql: 'created_at = ?', params: [filter.createdAt] });
  }
  if (filter.fromDate !== undefined) {
    conditions.push({ sql: 'created_at >= ?', params: [filter.fromDate] });
  }
  if (filter.toDate !== undefined) {
    conditions.push({ sql: 'created_at <= ?', params: [filter.toDate] });
  }
  if (filter.failed) conditions.push({ sql: 'dlq_id IS NOT NULL', params: [] });
  return conditions;
}
