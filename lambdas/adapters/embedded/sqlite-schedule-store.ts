import type Database from 'better-sqlite3';
import type { DedupClaim } from '../../ports/message-store';
import type { CreateScheduleResult, Schedule, ScheduleStore } from '../../ports/schedule-store';
import { writeTransaction } from './sqlite-transaction';

/** The fields of a schedule kept as JSON: those no query looks into. */
type ScheduleFields = {
  readonly cron: string;
  readonly destination: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly queueName?: string;
  readonly callerIp?: string;
};

type ScheduleRow = {
  id: string;
  fields: string;
  body: Buffer;
  createdAt: number;
  paused: number;
  lastScheduleTime: number | null;
  nextScheduleTime: number | null;
  error: string | null;
};

const SELECT = `SELECT id, fields, body, created_at AS createdAt, paused,
    last_schedule_time AS lastScheduleTime, next_schedule_time AS nextScheduleTime, error
  FROM schedules`;

/**
 * Cron schedules in SQLite, with their own dedup keys (`schedule_dedup_keys`). Besides the
 * port, it answers the embedded ScheduleRunner's questions: which running schedules are due,
 * and when the next one is.
 */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #statements;
  readonly #put: (
    schedule: Schedule,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ) => CreateScheduleResult;

  constructor(db: Database.Database) {
    const statements = {
      findDedup: db.prepare(
        'SELECT schedule_id AS scheduleId, expires_at AS expiresAt FROM schedule_dedup_keys WHERE key = ?',
      ),
      upsertDedup: db.prepare(
        `INSERT INTO schedule_dedup_keys (key, schedule_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET schedule_id = excluded.schedule_id, expires_at = excluded.expires_at`,
      ),
      replace: db.prepare(
        `INSERT OR REPLACE INTO schedules
           (id, fields, body, created_at, paused, last_schedule_time, next_schedule_time, error)
         VALUES (@id, @fields, @body, @createdAt, @paused, @lastScheduleTime, @nextScheduleTime, @error)`,
      ),
      get: db.prepare(`${SELECT} WHERE id = ?`),
      list: db.prepare(`${SELECT} ORDER BY created_at, id`),
      delete: db.prepare('DELETE FROM schedules WHERE id = ?'),
      setPaused: db.prepare('UPDATE schedules SET paused = ?, next_schedule_time = ? WHERE id = ?'),
      // A schedule paused while its tick ran keeps no next tick.
      recordTick: db.prepare(
        `UPDATE schedules SET last_schedule_time = ?,
           next_schedule_time = CASE WHEN paused = 0 THEN ? END, error = ?
         WHERE id = ?`,
      ),
      due: db.prepare(
        `${SELECT} WHERE next_schedule_time <= ? AND paused = 0 ORDER BY next_schedule_time`,
      ),
      earliestAfter: db.prepare(
        `SELECT MIN(next_schedule_time) AS at FROM schedules
         WHERE next_schedule_time > ? AND paused = 0`,
      ),
    };
    this.#statements = statements;
    this.#put = writeTransaction(
      db,
      (schedule: Schedule, dedup: DedupClaim | undefined, nowMs: number): CreateScheduleResult => {
        if (dedup) {
          const holder = statements.findDedup.get(dedup.key) as
            | { scheduleId: string; expiresAt: number }
            | undefined;
          // An expired claim is as good as none: the key may create a schedule again.
          if (holder && holder.expiresAt > nowMs) {
            return { created: false, existingScheduleId: holder.scheduleId };
          }
          statements.upsertDedup.run(dedup.key, schedule.scheduleId, dedup.expiresAt);
        }
        statements.replace.run(toRow(schedule));
        return { created: true };
      },
    );
  }

  async putSchedule(
    schedule: Schedule,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<CreateScheduleResult> {
    return this.#put(schedule, dedup, nowMs);
  }

  async getSchedule(scheduleId: string): Promise<Schedule | undefined> {
    const row = this.#statements.get.get(scheduleId) as ScheduleRow | undefined;
    return row && fromRow(row);
  }

  async listSchedules(): Promise<Schedule[]> {
    return (this.#statements.list.all() as ScheduleRow[]).map(fromRow);
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    return this.#statements.delete.run(scheduleId).changes > 0;
  }

  async setPaused(
    scheduleId: string,
    paused: boolean,
    nextScheduleTime: number | undefined,
  ): Promise<boolean> {
    return (
      this.#statements.setPaused.run(Number(paused), nextScheduleTime ?? null, scheduleId).changes >
      0
    );
  }

  async recordTick(
    scheduleId: string,
    tickTime: number,
    nextScheduleTime: number | undefined,
    error?: string,
  ): Promise<void> {
    this.#statements.recordTick.run(tickTime, nextScheduleTime ?? null, error ?? null, scheduleId);
  }

  /** Running schedules whose next tick is due by `nowMs`, the most overdue first. */
  dueSchedules(nowMs: number): Schedule[] {
    return (this.#statements.due.all(nowMs) as ScheduleRow[]).map(fromRow);
  }

  /** The earliest next tick of a running schedule after `afterMs`; undefined when none. */
  nextScheduleTimeAfter(afterMs = Number.MIN_SAFE_INTEGER): number | undefined {
    const row = this.#statements.earliestAfter.get(afterMs) as { at: number | null };
    return row.at ?? undefined;
  }
}

function toRow(schedule: Schedule): Record<string, unknown> {
  const fields: ScheduleFields = {
    cron: schedule.cron,
    destination: schedule.destination,
    headers: schedule.headers,
    queueName: schedule.queueName,
    callerIp: schedule.callerIp,
  };
  return {
    id: schedule.scheduleId,
    fields: JSON.stringify(fields),
    body: Buffer.from(schedule.body.buffer, schedule.body.byteOffset, schedule.body.byteLength),
    createdAt: schedule.createdAt,
    paused: Number(schedule.isPaused),
    lastScheduleTime: schedule.lastScheduleTime ?? null,
    nextScheduleTime: schedule.nextScheduleTime ?? null,
    error: schedule.error ?? null,
  };
}

function fromRow(row: ScheduleRow): Schedule {
  const fields = JSON.parse(row.fields) as ScheduleFields;
  return {
    scheduleId: row.id,
    cron: fields.cron,
    destination: fields.destination,
    headers: fields.headers,
    body: row.body,
    ...(fields.queueName !== undefined && { queueName: fields.queueName }),
    ...(fields.callerIp !== undefined && { callerIp: fields.callerIp }),
    createdAt: row.createdAt,
    isPaused: row.paused !== 0,
    ...(row.lastScheduleTime !== null && { lastScheduleTime: row.lastScheduleTime }),
    ...(row.nextScheduleTime !== null && { nextScheduleTime: row.nextScheduleTime }),
    ...(row.error !== null && { error: row.error }),
  };
}
