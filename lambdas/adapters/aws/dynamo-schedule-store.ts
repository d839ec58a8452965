/**
 * Cron schedules in the shared DynamoDB table (table.ts):
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | schedule | `SCHEDULES` | `<scheduleId>` | the Schedule's fields (`headers` as JSON), `body` (its first bytes), `bodyVersion`, `bodyParts` |
 * | body part (bodies over one item) | `SCHEDULE#<scheduleId>` | `PART#<bodyVersion>#<nnn>` | `blob` |
 * | dedup claim | `DEDUP#<key>` | `SCHEDULE` | `scheduleId`, `expiresAt`, `ttl` |
 *
 * - Every schedule shares one partition key, so `listSchedules` is one strongly consistent Query
 *   of the base table (no index, no lag behind a write), sorted by creation time in code. Each
 *   tick writes its schedule once (`recordTick`), so one partition's ~1,000 writes a second
 *   allow some 60,000 schedules ticking every minute; past that, give each schedule its own
 *   `pk` and list through a sharded directory, as the event index does.
 * - A body up to ITEM_PAYLOAD_BYTES (minus the other fields) stays inline; the rest goes to part
 *   items, written BEFORE the schedule item that names them, under a fresh `bodyVersion`, so a
 *   replaced schedule never reads another version's parts. The replaced version's parts are
 *   deleted after the replacement; a claim that loses its dedup race deletes its own.
 * - A dedup claim is a `DEDUP#<key>` item, as the message store's are, but with sort key
 *   `SCHEDULE`: publishes and schedule creations deduplicate separately, like SQLite's two
 *   tables. It is written in one transaction with the schedule, conditional on
 *   `attribute_not_exists(pk) OR expiresAt <= :now`: TTL deletes expired claims lazily (up to
 *   about two days late), so the stored expiry is what counts. The schedule's put in that
 *   transaction is conditional on the schedule it replaces being the one read before (by
 *   `bodyVersion`), so the replaced body's parts are known exactly.
 */
import { randomBytes } from 'node:crypto';
import type { DedupClaim } from '../../ports/message-store';
import type { CreateScheduleResult, Schedule, ScheduleStore } from '../../ports/schedule-store';
import { storedDedupKey } from './dedup-claims';
import type { Item, Key, TransactItem } from './dynamo-calls';
import {
  ConditionFailedError,
  DynamoCalls,
  DynamoStoreError,
  type DynamoTableOptions,
  mapLimit,
  RACE_ATTEMPTS,
  TransactionConditionError,
} from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { ITEM_PAYLOAD_BYTES } from './dynamo-payloads';
import { TABLE, ttlOf } from './table';

const SCHEDULES_PARTITION = 'SCHEDULES';
const PART_DIGITS = 3;
const PARALLEL_WRITES = 10;
const EMPTY = new Uint8Array();

const PK: 'pk' = TABLE.partitionKey;
const SK: 'sk' = TABLE.sortKey;

function key(pk: string, sk: string): Key {
  return { [PK]: pk, [SK]: sk };
}

const keys = {
  schedule: (scheduleId: string) => key(SCHEDULES_PARTITION, scheduleId),
  partPrefix: (version: string) => `PART#${version}#`,
  part: (scheduleId: string, version: string, index: number) =>
    key(
      `SCHEDULE#${scheduleId}`,
      `${keys.partPrefix(version)}${String(index).padStart(PART_DIGITS, '0')}`,
    ),
  dedup: (dedupKey: string) => key(`DEDUP#${dedupKey}`, 'SCHEDULE'),
};

/** The fields of a schedule item other than its key and body. */
type ScheduleFields = {
  readonly scheduleId: string;
  readonly cron: string;
  readonly destination: string;
  readonly headers: string;
  readonly queueName?: string;
  readonly callerIp?: string;
  readonly createdAt: number;
  readonly isPaused: boolean;
  readonly lastScheduleTime?: number;
  readonly nextScheduleTime?: number;
  readonly error?: string;
};

/** A schedule item, as written: its fields, its body's first bytes and where the rest is. */
type ScheduleItem = ScheduleFields & {
  readonly body?: Uint8Array;
  readonly bodyVersion?: string;
  readonly bodyParts?: number;
};

/** The AWS runtime's ScheduleStore on DynamoDB (item layout above). */
export class DynamoScheduleStore implements ScheduleStore {
  readonly #calls: DynamoCalls;

  constructor(options: DynamoTableOptions) {
    this.#calls = new DynamoCalls(options);
  }

  async putSchedule(
    schedule: Schedule,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<CreateScheduleResult> {
    const calls = this.#calls;
    const dedupKey = dedup && keys.dedup(storedDedupKey(dedup.key));
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      if (dedupKey) {
        // Most duplicates are caught by this read, before anything is written.
        const holder = await calls.get(dedupKey);
        if (holder && (holder.expiresAt as number) > nowMs) {
          return { created: false, existingScheduleId: holder.scheduleId as string };
        }
      }
      const item = await this.#writeBody(schedule);
      if (!dedup || !dedupKey) {
        const replaced = await calls.put(item, { ReturnValues: 'ALL_OLD' });
        await this.#deleteParts(replaced as ScheduleItem | undefined);
        return { created: true };
      }
      // A transaction returns no old item: read the one this put replaces, and put only if it
      // is still the one read, so its body parts are the ones deleted after.
      const previous = (await calls.get(keys.schedule(schedule.scheduleId))) as
        | ScheduleItem
        | undefined;
      try {
        await calls.transact([
          claimItem(calls.tableName, dedupKey, dedup, schedule.scheduleId, nowMs),
          putIfUnchanged(calls.tableName, item, previous),
        ]);
        await this.#deleteParts(previous);
        return { created: true };
      } catch (error) {
        if (!(error instanceof TransactionConditionError)) throw error;
        await this.#deleteParts(item);
        // Not the claim: the schedule was replaced since it was read; read it again.
        if (!error.failedAt(0)) continue;
        const holder =
          error.cancellations[0]?.item?.scheduleId?.S ??
          ((await calls.get(dedupKey))?.scheduleId as string | undefined);
        // Undefined: the claim went away in between (deleted by TTL); try again.
        if (holder !== undefined) return { created: false, existingScheduleId: holder };
      }
    }
    throw new DynamoStoreError(
      `schedule ${schedule.scheduleId} kept losing races on its dedup key`,
    );
  }

  async getSchedule(scheduleId: string): Promise<Schedule | undefined> {
    const item = await this.#calls.get(keys.schedule(scheduleId));
    return item && this.#decode(item as ScheduleItem);
  }

  async listSchedules(): Promise<Schedule[]> {
    const builder = new ExpressionBuilder();
    const items = await this.#calls.queryAll({
      KeyConditionExpression: `${builder.name(PK)} = ${builder.value(SCHEDULES_PARTITION)}`,
      ...builder.parts(),
      ConsistentRead: true,
    });
    const schedules: Schedule[] = [];
    await mapLimit(items, PARALLEL_WRITES, async (item) => {
      schedules.push(await this.#decode(item as ScheduleItem));
    });
    return schedules.sort(
      (a, b) =>
        a.createdAt - b.createdAt ||
        (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0),
    );
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    const deleted = await this.#calls.delete(keys.schedule(scheduleId), {
      ReturnValues: 'ALL_OLD',
    });
    await this.#deleteParts(deleted as ScheduleItem | undefined);
    return deleted !== undefined;
  }

  async setPaused(
    scheduleId: string,
    paused: boolean,
    nextScheduleTime: number | undefined,
  ): Promise<boolean> {
    return this.#updateExisting(scheduleId, (b) => {
      const set = `SET ${b.name('isPaused')} = ${b.value(paused)}`;
      return nextScheduleTime === undefined
        ? `${set} REMOVE ${b.name('nextScheduleTime')}`
        : `${set}, ${b.name('nextScheduleTime')} = ${b.value(nextScheduleTime)}`;
    });
  }

  async recordTick(
    scheduleId: string,
    tickTime: number,
    nextScheduleTime: number | undefined,
    error?: string,
  ): Promise<void> {
    // Conditional on the item and on its pause state as assumed, so a schedule deleted meanwhile
    // stays deleted and one paused meanwhile gets no next time; a lost race looks again.
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      for (const paused of [false, true]) {
        const written = await this.#updateExisting(
          scheduleId,
          (b) => {
            const set = [`${b.name('lastScheduleTime')} = ${b.value(tickTime)}`];
            const remove: string[] = [];
            if (error === undefined) remove.push(b.name('error'));
            else set.push(`${b.name('error')} = ${b.value(error)}`);
            if (paused || nextScheduleTime === undefined) remove.push(b.name('nextScheduleTime'));
            else set.push(`${b.name('nextScheduleTime')} = ${b.value(nextScheduleTime)}`);
            return `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`;
          },
          (b) => `${b.name('isPaused')} = ${b.value(paused)}`,
        );
        if (written) return;
      }
      if (!(await this.#calls.get(keys.schedule(scheduleId)))) return;
    }
    throw new DynamoStoreError(`tick of schedule ${scheduleId} kept losing races with pauses`);
  }

  /** Updates a schedule that exists (and meets `condition`); false when there is none. */
  async #updateExisting(
    scheduleId: string,
    update: (builder: ExpressionBuilder) => string,
    condition?: (builder: ExpressionBuilder) => string,
  ): Promise<boolean> {
    const b = new ExpressionBuilder();
    const UpdateExpression = update(b);
    const extra = condition === undefined ? '' : ` AND ${condition(b)}`;
    try {
      await this.#calls.update(keys.schedule(scheduleId), {
        UpdateExpression,
        ConditionExpression: `attribute_exists(${b.name(PK)})${extra}`,
        ...b.parts(),
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      throw error;
    }
  }

  /**
   * Writes the parts of a body too large for one item and returns the schedule item naming
   * them (not yet written).
   */
  async #writeBody(schedule: Schedule): Promise<ScheduleItem & Key> {
    const fields: ScheduleFields = {
      scheduleId: schedule.scheduleId,
      cron: schedule.cron,
      destination: schedule.destination,
      headers: JSON.stringify(schedule.headers),
      queueName: schedule.queueName,
      callerIp: schedule.callerIp,
      createdAt: schedule.createdAt,
      isPaused: schedule.isPaused,
      lastScheduleTime: schedule.lastScheduleTime,
      nextScheduleTime: schedule.nextScheduleTime,
      error: schedule.error,
    };
    const room = ITEM_PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify(fields));
    if (room < 0) {
      throw new DynamoStoreError(
        `schedule ${schedule.scheduleId}: its configuration does not fit one DynamoDB item`,
      );
    }
    const { body } = schedule;
    const inline = body.subarray(0, room);
    const parts: Uint8Array[] = [];
    for (let start = room; start < body.byteLength; start += ITEM_PAYLOAD_BYTES) {
      parts.push(body.subarray(start, start + ITEM_PAYLOAD_BYTES));
    }
    const bodyVersion = parts.length > 0 ? randomBytes(6).toString('hex') : undefined;
    if (bodyVersion !== undefined) {
      await mapLimit(parts, PARALLEL_WRITES, (blob, index) =>
        this.#calls.put({ ...keys.part(schedule.scheduleId, bodyVersion, index), blob }),
      );
    }
    return {
      ...keys.schedule(schedule.scheduleId),
      ...fields,
      // An empty binary attribute is left out rather than stored.
      ...(inline.byteLength > 0 && { body: inline }),
      ...(bodyVersion !== undefined && { bodyVersion, bodyParts: parts.length }),
    };
  }

  async #deleteParts(item: ScheduleItem | undefined): Promise<void> {
    const version = item?.bodyVersion;
    if (item === undefined || version === undefined) return;
    await mapLimit(Array.from({ length: item.bodyParts ?? 0 }), PARALLEL_WRITES, (_, index) =>
      this.#calls.delete(keys.part(item.scheduleId, version, index)),
    );
  }

  async #decode(item: ScheduleItem): Promise<Schedule> {
    const inline = item.body ?? EMPTY;
    let body = inline;
    if (item.bodyVersion !== undefined) {
      const { pk } = keys.part(item.scheduleId, item.bodyVersion, 0);
      const builder = new ExpressionBuilder();
      const parts = await this.#calls.queryAll({
        KeyConditionExpression: `${builder.name(PK)} = ${builder.value(pk)} AND begins_with(${builder.name(SK)}, ${builder.value(keys.partPrefix(item.bodyVersion))})`,
        ...builder.parts(),
        ConsistentRead: true,
      });
      if (parts.length !== item.bodyParts) {
        throw new DynamoStoreError(
          `schedule ${item.scheduleId}: ${parts.length} of its ${item.bodyParts} body parts found`,
        );
      }
      body = Buffer.concat([inline, ...parts.map((part: Item) => part.blob as Uint8Array)]);
    }
    return {
      scheduleId: item.scheduleId,
      cron: item.cron,
      destination: item.destination,
      headers: JSON.parse(item.headers) as Record<string, string>,
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
      ...(item.queueName !== undefined && { queueName: item.queueName }),
      ...(item.callerIp !== undefined && { callerIp: item.callerIp }),
      createdAt: item.createdAt,
      isPaused: item.isPaused,
      ...(item.lastScheduleTime !== undefined && { lastScheduleTime: item.lastScheduleTime }),
      ...(item.nextScheduleTime !== undefined && { nextScheduleTime: item.nextScheduleTime }),
      ...(item.error !== undefined && { error: item.error }),
    };
  }
}

/** The conditional put of a dedup claim, returning the holder when the claim still holds. */
function claimItem(
  tableName: string,
  dedupKey: Key,
  dedup: DedupClaim,
  scheduleId: string,
  nowMs: number,
): TransactItem {
  const b = new ExpressionBuilder();
  const ConditionExpression = `attribute_not_exists(${b.name(PK)}) OR ${b.name('expiresAt')} <= ${b.value(nowMs)}`;
  return {
    Put: {
      TableName: tableName,
      Item: {
        ...dedupKey,
        scheduleId,
        expiresAt: dedup.expiresAt,
        [TABLE.ttlAttribute]: ttlOf(dedup.expiresAt),
      },
      ConditionExpression,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ...b.parts(),
    },
  };
}

/** The put of a schedule item, conditional on the item it replaces being `previous` (or none). */
function putIfUnchanged(
  tableName: string,
  item: ScheduleItem & Key,
  previous: ScheduleItem | undefined,
): TransactItem {
  const b = new ExpressionBuilder();
  const ConditionExpression =
    previous === undefined
      ? `attribute_not_exists(${b.name(PK)})`
      : previous.bodyVersion === undefined
        ? `attribute_exists(${b.name(PK)}) AND attribute_not_exists(${b.name('bodyVersion')})`
        : `${b.name('bodyVersion')} = ${b.value(previous.bodyVersion)}`;
  return { Put: { TableName: tableName, Item: item, ConditionExpression, ...b.parts() } };
}
