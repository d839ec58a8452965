import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { MAX_RATE_PERIOD_SEC } from '../../core/flow-control';
import { writeTransaction } from './sqlite-transaction';

/** What one sweep batch removed, and whether more is left for the next batch. */
export type SweepBatch = {
  /** Finished messages removed, with their events. */
  readonly messages: number;
  readonly deadLetters: number;
  /** Expired dedup claims of publishes and of schedule creations. */
  readonly dedupKeys: number;
  /** Flow-control keys idle past the cutoff, and attempt starts no rate can count any more. */
  readonly flowControlKeys: number;
  readonly flowControlStarts: number;
  /**
   * Workflow runs ended (succeeded, failed, canceled) before the cutoff, with their steps,
   * waits and kept notifications, and notifications kept that long for a run that never waited.
   */
  readonly workflowRuns: number;
  readonly workflowNotifications: number;
  /** Free pages handed back to the file system. */
  readonly freedPages: number;
  /** True when the batch stopped at its budget with work left. */
  readonly more: boolean;
  readonly durationMs: number;
};

/**
 * A batch stops taking more once it has run this long, so the database (and the event loop,
 * better-sqlite3 being synchronous) is never held for more than a few milliseconds.
 */
const BATCH_BUDGET_MS = 4;
/** Rows a batch looks at, at most, per kind. */
const BATCH_ROWS = 500;
/**
 * Free pages kept for reuse, as a share of the file: under steady load the next messages fill
 * what retention freed, so handing those pages back would only make the file grow again.
 */
const KEPT_FREE_SHARE = 0.25;
/** Pages handed back per batch (1 MiB of 4 KiB pages). */
const VACUUM_STEP_PAGES = 256;
const LONGEST_RATE_PERIOD_MS = MAX_RATE_PERIOD_SEC * 1_000;

/**
 * Retention for the embedded store: removes what is older than the retention period in small
 * batches. Finished messages (delivered, failed, canceled) go with their events once they
 * finished before the cutoff; dead letters by when they failed; dedup claims once expired.
 * Pending messages are never touched: only rows with `finished_at` set are read. Of flow
 * control, the attempt starts older than the longest rate period (which no rate counts), and
 * the keys idle since before the cutoff with nothing left that matters: no pending message
 * (a key with one is never forgotten, however old), none in flight, no start its rate still
 * counts, no pause or pin (an operator's, kept until undone). What such a key still holds, a
 * value carried over from an unpin, gives way to the next message's anyway. Workflow runs go
 * once they ended before the cutoff, as a failed run's dead letter does (a run still started
 * is never touched), and so do notifications kept that long for a wait that never came. Free pages
 * are reused by later writes, and those beyond a reserve are handed back with SQLite's
 * incremental vacuum.
 */
export class SqliteRetention {
  readonly #db: Database.Database;
  readonly #batch: (cutoffMs: number, nowMs: number) => Omit<SweepBatch, 'durationMs'>;

  constructor(db: Database.Database) {
    this.#db = db;
    const statements = {
      finished: db.prepare(
        `SELECT id FROM messages WHERE finished_at < ? ORDER BY finished_at LIMIT ${BATCH_ROWS}`,
      ),
      deleteEvents: db.prepare('DELETE FROM events WHERE message_id = ?'),
      deleteMessage: db.prepare('DELETE FROM messages WHERE id = ? AND finished_at IS NOT NULL'),
      deadLetters: db.prepare(
        `SELECT dlq_id AS id FROM dlq WHERE failed_at < ? ORDER BY failed_at LIMIT ${BATCH_ROWS}`,
      ),
      deleteDeadLetter: db.prepare('DELETE FROM dlq WHERE dlq_id = ?'),
      expiredDedup: db.prepare(
        `DELETE FROM dedup_keys WHERE rowid IN (
           SELECT rowid FROM dedup_keys WHERE expires_at <= ? LIMIT ${BATCH_ROWS})`,
      ),
      expiredScheduleDedup: db.prepare(
        `DELETE FROM schedule_dedup_keys WHERE rowid IN (
           SELECT rowid FROM schedule_dedup_keys WHERE expires_at <= ? LIMIT ${BATCH_ROWS})`,
      ),
      // The settings are the core's FlowControlSettings as JSON (sqlite-flow-control.ts).
      idleFlowControlKeys: db.prepare(
        `DELETE FROM flow_control_keys WHERE key IN (
           SELECT k.key FROM flow_control_keys k
           WHERE k.active_at < @cutoff AND k.in_flight = 0
             AND json_extract(k.settings, '$.paused') IS NULL
             AND json_extract(k.settings, '$.pinnedParallelism') IS NULL
             AND json_extract(k.settings, '$.pinnedRate') IS NULL
             AND NOT EXISTS (SELECT 1 FROM flow_control_configs c WHERE c.key = k.key)
             AND NOT EXISTS (
               SELECT 1 FROM flow_control_starts s
               WHERE s.key = k.key AND s.at > @now - k.rate_period_ms)
           LIMIT ${BATCH_ROWS})
         RETURNING key`,
      ),
      deleteFlowControlStarts: db.prepare('DELETE FROM flow_control_starts WHERE key = ?'),
      endedRuns: db.prepare(
        `SELECT run_id AS id FROM workflow_runs
         WHERE completed_at < ? ORDER BY completed_at LIMIT ${BATCH_ROWS}`,
      ),
      deleteRunMessages: db.prepare('DELETE FROM workflow_run_messages WHERE run_id = ?'),
      deleteRunWaiters: db.prepare('DELETE FROM workflow_waiters WHERE run_id = ?'),
      deleteRunNotifications: db.prepare('DELETE FROM workflow_notifications WHERE run_id = ?'),
      deleteRun: db.prepare(
        'DELETE FROM workflow_runs WHERE run_id = ? AND completed_at IS NOT NULL',
      ),
      // Of the oldest notifications (seq follows arrival), those kept since before the cutoff.
      oldNotifications: db.prepare(
        `DELETE FROM workflow_notifications WHERE seq IN (
           SELECT seq FROM (SELECT seq, created_at FROM workflow_notifications
                            ORDER BY seq LIMIT ${BATCH_ROWS})
           WHERE created_at < ?)`,
      ),
      oldFlowControlStarts: db.prepare(
        `DELETE FROM flow_control_starts WHERE (key, at) IN (
           SELECT key, at FROM flow_control_starts WHERE at <= ? LIMIT ${BATCH_ROWS})`,
      ),
    };
    this.#batch = writeTransaction(db, (cutoffMs: number, nowMs: number) => {
      const started = performance.now();
      const overBudget = () => performance.now() - started >= BATCH_BUDGET_MS;
      let more = false;
      let messages = 0;
      for (const { id } of statements.finished.all(cutoffMs) as { id: string }[]) {
        if (overBudget()) {
          more = true;
          break;
        }
        statements.deleteEvents.run(id);
        messages += statements.deleteMessage.run(id).changes;
      }
      let deadLetters = 0;
      if (!more) {
        for (const { id } of statements.deadLetters.all(cutoffMs) as { id: string }[]) {
          if (overBudget()) {
            more = true;
            break;
          }
          deadLetters += statements.deleteDeadLetter.run(id).changes;
        }
      }
      let dedupKeys = 0;
      if (!more) {
        dedupKeys =
          statements.expiredDedup.run(nowMs).changes +
          statements.expiredScheduleDedup.run(nowMs).changes;
      }
      let flowControlKeys = 0;
      let flowControlStarts = 0;
      if (!more) {
        const keys = statements.idleFlowControlKeys.all({ cutoff: cutoffMs, now: nowMs }) as {
          key: string;
        }[];
        for (const { key } of keys) statements.deleteFlowControlStarts.run(key);
        flowControlKeys = keys.length;
        flowControlStarts = statements.oldFlowControlStarts.run(
          nowMs - LONGEST_RATE_PERIOD_MS,
        ).changes;
      }
      let workflowRuns = 0;
      let workflowNotifications = 0;
      if (!more) {
        for (const { id } of statements.endedRuns.all(cutoffMs) as { id: string }[]) {
          if (overBudget()) {
            more = true;
            break;
          }
          statements.deleteRunMessages.run(id);
          statements.deleteRunWaiters.run(id);
          workflowNotifications += statements.deleteRunNotifications.run(id).changes;
          workflowRuns += statements.deleteRun.run(id).changes;
        }
      }
      if (!more) workflowNotifications += statements.oldNotifications.run(cutoffMs).changes;
      // A full page of rows means there may be more behind it.
      more ||=
        messages === BATCH_ROWS ||
        deadLetters === BATCH_ROWS ||
        dedupKeys >= BATCH_ROWS ||
        flowControlKeys === BATCH_ROWS ||
        flowControlStarts === BATCH_ROWS ||
        workflowRuns === BATCH_ROWS ||
        workflowNotifications >= BATCH_ROWS;
      return {
        messages,
        deadLetters,
        dedupKeys,
        flowControlKeys,
        flowControlStarts,
        workflowRuns,
        workflowNotifications,
        freedPages: 0,
        more,
      };
    });
  }

  /**
   * Removes one batch of what finished (or expired) before `cutoffMs`, in one short
   * transaction; call again while `more` is true. Once nothing is left, each call hands back
   * up to 1 MiB of the free pages beyond the reserve kept for reuse.
   */
  sweepBatch(cutoffMs: number, nowMs: number): SweepBatch {
    const started = performance.now();
    const swept = this.#batch(cutoffMs, nowMs);
    const vacuum = swept.more ? { freedPages: 0, more: false } : this.#vacuumStep();
    return {
      ...swept,
      freedPages: vacuum.freedPages,
      more: swept.more || vacuum.more,
      durationMs: performance.now() - started,
    };
  }

  /** Hands back up to a step of the free pages beyond the reserve; `more` if more are beyond it. */
  #vacuumStep(): { freedPages: number; more: boolean } {
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    const pages = this.#db.pragma('page_count', { simple: true }) as number;
    // Freeing k pages leaves free - k of pages - k: within the reserve once k reaches this.
    const excess = Math.ceil((free - pages * KEPT_FREE_SHARE) / (1 - KEPT_FREE_SHARE));
    if (excess <= 0) return { freedPages: 0, more: false };
    const step = Math.min(excess, VACUUM_STEP_PAGES);
    this.#db.pragma(`incremental_vacuum(${step})`);
    return { freedPages: step, more: excess > step };
  }
}
