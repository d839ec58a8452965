/**
 * Upstash Workflow's run registry on DynamoDB (the port: ports/workflow-run-store.ts):
 *
 * | item | pk | sk | holds |
 * |---|---|---|---|
 * | run | `WFR#<runId>` | `RUN` | the run as JSON (`data`), its version `v` (the optimistic lock) |
 * | message of the run | `WFR#<runId>` | `MSG#<messageId>` | `createdAt`; `seq` once it is in the history |
 * | step of the history | `WFR#<runId>` | `STEP#<seq>` | the message's id, call type, time and body |
 * | wait of the run | `WFR#<runId>` | `WAIT#<waiterId>` | the event id (to find the waiter's index entry) |
 * | kept notification | `WFR#<runId>` | `NOTE#<0/1 webhook>#<event hash>#<time>#<writer>` | the event's data |
 * | waiter | `WAITER#<waiterId>` | `WAITER` | the waiter as JSON, `claimedBy` |
 * | waiter index | `WAITEV#<eventId>#<0..7>` | `<createdAt>#<waiterId>` | the waiter's id and run |
 * | run index | `WFRX#<UTC hour>#<0..15>` | `<createdAt>#<runId>` | what the run filters match on but state |
 *
 * A run's partition holds everything read by run id; a delivery reads its history with one
 * range query (`STEP#` up to its own). Bodies past 4 KB (steps, which are written in a
 * transaction) or 350 KB (the run, notifications) go into parts beside their item
 * (dynamo-payloads.ts), so no item nears 400 KB.
 *
 * A step takes its place with one transaction: `STEP#<last + 1>` if absent, and its message's
 * `seq` if unset. So two messages appended at once (parallel steps) never share a place and
 * each sees the other once it is there, and a message appended twice keeps its first place.
 *
 * No hot partition: a run's items are its own; runs are listed by creation time from a time
 * index (time-index.ts, 16 shards: 10,000 runs started a second are 625 WCU per shard), whose
 * entries are written once; the state filters read the runs themselves. Waiters are listed by
 * event id from 8 shards by run id, so many runs waiting for one event spread their writes, and
 * a notify with a run id reads one shard.
 *
 * TTL: while a run goes on, its items carry a year (the longest a message of it may wait) plus
 * `sqstash:retention` from when they were written; when it succeeds, fails or is canceled, all of
 * them are given `sqstash:retention` from then (one small update per item: what keeps storage at
 * what the retention holds). Waiters carry the retention after their deadline.
 */
import { createHash } from 'node:crypto';
import type {
  WorkflowCallType,
  WorkflowNotification,
  WorkflowRun,
  WorkflowStep,
  WorkflowWaiter,
} from '../../core/workflow/workflow-run';
import type { Clock } from '../../ports/clock';
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
import type { DynamoCalls, Item, Key } from './dynamo-calls';
import {
  ConditionFailedError,
  mapLimit,
  PARALLEL_CALLS,
  RACE_ATTEMPTS,
  TransactionConditionError,
} from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import {
  ITEM_PAYLOAD_BYTES,
  joinPayload,
  newPartsTag,
  partKeys,
  readParts,
  SMALL_INLINE_BYTES,
  splitPayload,
} from './dynamo-payloads';
import { MAX_WAIT_MS } from './message-router';
import { TABLE, ttlOf } from './table';
import {
  decodeCursor,
  encodeCursor,
  nextWriterToken,
  padTime,
  rangeOfDates,
  shardOf,
  TimeIndex,
} from './time-index';

export const RUN_INDEX_SHARDS = 16;
export const WAITER_SHARDS = 8;
const PK = TABLE.partitionKey;
const SK = TABLE.sortKey;
const TTL = TABLE.ttlAttribute;
const RUN_SK = 'RUN';
const SEQ_DIGITS = 10;
const STEP_SK = /^STEP#\d{10}$/;
const POSITION = /^\d{15}#.+$/s;
const INDEX_PAGE = 100;
const MAX_EXAMINED_PER_PAGE = 2_000;
/**
 * Attempts of a step at a place: each lost race means another message took it, so N messages
 * appended at once (N parallel steps) need up to N attempts.
 */
const PLACE_ATTEMPTS = 50;
const PLACE_BACKOFF_MS = 20;
const ENDABLE: readonly WorkflowRun['state'][] = ['RUN_STARTED', 'RUN_FAILED'];

export type DynamoWorkflowRunStoreOptions = {
  readonly clock: Clock;
  /** How long a run's items are kept after it ends (`sqstash:retention`). */
  readonly retentionMs: number;
};

export class DynamoWorkflowRunStore implements WorkflowRunStore {
  readonly #calls: DynamoCalls;
  readonly #index: TimeIndex;
  readonly #options: DynamoWorkflowRunStoreOptions;

  constructor(calls: DynamoCalls, options: DynamoWorkflowRunStoreOptions) {
    this.#calls = calls;
    this.#index = new TimeIndex(calls, 'WFRX', RUN_INDEX_SHARDS);
    this.#options = options;
  }

  /**
   * The steps, their messages and the index entry first, the run last and only if absent: a run
   * that exists has its first steps. Only one message opens a run (a trigger is deduplicated by
   * its run id, a resumed run has an id of its own), so openers that race write the same steps.
   */
  async createRun(run: WorkflowRun, steps: readonly NewWorkflowStep[]): Promise<boolean> {
    if (await this.#calls.get(runKey(run.runId))) return false;
    const ttl = this.#liveTtl();
    await this.#index.register([run.createdAt], ttl);
    const items = steps.flatMap((step, seq) => {
      const { item, parts } = stepItems(run.runId, seq, step, ttl);
      return [...parts, item, messageItem(run.runId, step.messageId, step.createdAt, ttl, seq)];
    });
    await this.#calls.batchWrite([...items, this.#indexItem(run, ttl)]);
    const { item, parts } = runItems(run, 0, ttl);
    await this.#calls.batchWrite(parts);
    try {
      await this.#calls.put(item, { ...notExists() });
      return true;
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      throw error;
    }
  }

  async getRun(runId: string): Promise<WorkflowRun | undefined> {
    return (await this.#readRun(runId))?.run;
  }

  async listRuns(query: WorkflowRunQuery): Promise<Page<WorkflowRun>> {
    const { filter, count } = query;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, POSITION);
    const found: { position: string; run: WorkflowRun }[] = [];
    let stoppedAt: string | undefined;
    if (filter.runIds !== undefined) {
      const runs = await this.#readRuns(filter.runIds);
      found.push(
        ...[...runs.values()]
          .map((run) => ({ position: positionOf(run), run }))
          .filter(({ position, run }) => isAfter(position, after) && matchesRun(filter, run))
          .sort((a, b) => (a.position < b.position ? 1 : -1)),
      );
    } else {
      const { lo, hi } = rangeOfDates(filter);
      let candidates: { position: string; runId: string }[] = [];
      const readCandidates = async () => {
        const runs = await this.#readRuns(candidates.map(({ runId }) => runId));
        for (const { position, runId } of candidates) {
          const run = runs.get(runId);
          if (run && matchesRun(filter, run)) found.push({ position, run });
        }
        candidates = [];
      };
      let examined = 0;
      const range = { lo, hi: after !== undefined && after < hi ? after : hi };
      for await (const entry of this.#index.items('latestFirst', range, {
        pageSize: INDEX_PAGE,
        consistent: true,
      })) {
        const position = entry[SK] as string;
        examined += 1;
        if (isAfter(position, after) && position < hi && matchesStatic(filter, indexView(entry))) {
          candidates.push({ position, runId: entry.runId as string });
        }
        // The runs are read in batches of what the page still needs.
        if (candidates.length > count - found.length) await readCandidates();
        if (found.length > count) break;
        if (examined >= MAX_EXAMINED_PER_PAGE) {
          stoppedAt = position;
          break;
        }
      }
      if (found.length <= count && candidates.length > 0) await readCandidates();
    }
    const page = found.slice(0, count);
    const cursor = found.length > count ? page.at(-1)?.position : stoppedAt;
    return {
      items: page.map(({ run }) => run),
      ...(cursor !== undefined && { cursor: encodeCursor(cursor) }),
    };
  }

  async endRun(runId: string, end: WorkflowRunEnd): Promise<WorkflowRun | undefined> {
    return this.#changeRun(runId, end.at, (run) =>
      ENDABLE.includes(run.state)
        ? {
            ...run,
            state: end.state,
            completedAt: end.at,
            ...(end.result !== undefined && { result: end.result }),
          }
        : undefined,
    );
  }

  async markRunFailed(runId: string, failure: WorkflowRunFailure): Promise<void> {
    await this.#changeRun(runId, failure.at, (run) => {
      const callback = failure.failureCallbackMessageId;
      if (run.state === 'RUN_FAILED' && run.dlqId === failure.dlqId) {
        return callback === undefined ? undefined : { ...run, failureCallbackMessageId: callback };
      }
      if (run.state !== 'RUN_STARTED') return undefined;
      return {
        ...run,
        state: 'RUN_FAILED',
        completedAt: failure.at,
        dlqId: failure.dlqId,
        ...(callback !== undefined && { failureCallbackMessageId: callback }),
      };
    });
  }

  async addMessage(runId: string, messageId: string, createdAt: number): Promise<void> {
    const b = new ExpressionBuilder();
    await this.#calls.update(messageKey(runId, messageId), {
      UpdateExpression: `SET ${b.name('messageId')} = ${b.value(messageId)}, ${b.name('createdAt')} = if_not_exists(${b.name('createdAt')}, ${b.value(createdAt)}), ${b.name(TTL)} = if_not_exists(${b.name(TTL)}, ${b.value(this.#liveTtl())})`,
      ...b.parts(),
    });
  }

  async listMessageIds(runId: string): Promise<string[]> {
    const items = await this.#queryRun(runId, 'MSG#');
    return items
      .sort((a, b) =>
        a.createdAt === b.createdAt
          ? (a.messageId as string) < (b.messageId as string)
            ? -1
            : 1
          : (a.createdAt as number) - (b.createdAt as number),
      )
      .map((item) => item.messageId as string);
  }

  async appendStep(runId: string, step: NewWorkflowStep): Promise<number> {
    const ttl = this.#liveTtl();
    for (let attempt = 1; ; attempt += 1) {
      const marker = await this.#calls.get(messageKey(runId, step.messageId));
      if (marker?.seq !== undefined) return marker.seq as number;
      const seq = (await this.#lastSeq(runId)) + 1;
      const { item, parts } = stepItems(runId, seq, step, ttl);
      await this.#calls.batchWrite(parts);
      const b = new ExpressionBuilder();
      try {
        await this.#calls.transact([
          { Put: { TableName: this.#calls.tableName, Item: item, ...notExists() } },
          {
            Update: {
              TableName: this.#calls.tableName,
              Key: messageKey(runId, step.messageId),
              UpdateExpression: `SET ${b.name('seq')} = ${b.value(seq)}, ${b.name('messageId')} = ${b.value(step.messageId)}, ${b.name('createdAt')} = if_not_exists(${b.name('createdAt')}, ${b.value(step.createdAt)}), ${b.name(TTL)} = if_not_exists(${b.name(TTL)}, ${b.value(ttl)})`,
              ConditionExpression: `attribute_not_exists(${b.name('seq')})`,
              ...b.parts(),
            },
          },
        ]);
        return seq;
      } catch (error) {
        // Another message took the place, or this one was appended meanwhile: look again, a
        // little later, so that appenders racing for a run's next places spread out.
        if (!(error instanceof TransactionConditionError) || attempt === PLACE_ATTEMPTS) {
          throw error;
        }
        await this.#calls.batchWrite([], parts.map(keyOf));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * PLACE_BACKOFF_MS));
      }
    }
  }

  async listSteps(runId: string, throughSeq?: number): Promise<WorkflowStep[]> {
    const b = new ExpressionBuilder();
    const last = throughSeq === undefined ? 'STEP#~' : `${stepSk(throughSeq)}#~`;
    const items = await this.#calls.queryAll({
      KeyConditionExpression: `${b.name(PK)} = ${b.value(runPk(runId))} AND ${b.name(SK)} BETWEEN ${b.value(stepSk(0))} AND ${b.value(last)}`,
      ...b.parts(),
      ConsistentRead: true,
    });
    return items
      .filter((item) => STEP_SK.test(item[SK] as string))
      .map((item) => ({
        seq: item.seq as number,
        messageId: item.messageId as string,
        callType: item.callType as WorkflowCallType,
        body: joinPayload(item.body as Uint8Array | undefined, item, 'B', items),
        createdAt: item.createdAt as number,
      }));
  }

  /**
   * The waiter's run mark and index entry first, the waiter last: an entry without its waiter
   * is skipped by the readers, and a waiter is found as soon as it exists.
   */
  async putWaiter(waiter: WorkflowWaiter): Promise<void> {
    const { claimedBy, ...fields } = waiter;
    const ttl = ttlOf(Math.max(waiter.deadline, this.#options.clock.now()) + this.#retention());
    await this.#calls.batchWrite([
      {
        [PK]: runPk(waiter.runId),
        [SK]: `WAIT#${waiter.waiterId}`,
        eventId: waiter.eventId,
        createdAt: waiter.createdAt,
        [TTL]: ttl,
      },
      { ...waiterIndexKey(waiter), waiterId: waiter.waiterId, runId: waiter.runId, [TTL]: ttl },
    ]);
    try {
      await this.#calls.put(
        {
          ...waiterKey(waiter.waiterId),
          data: JSON.stringify(fields),
          ...(claimedBy !== undefined && { claimedBy }),
          [TTL]: ttl,
        },
        notExists(),
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  async getWaiter(waiterId: string): Promise<WorkflowWaiter | undefined> {
    const item = await this.#calls.get(waiterKey(waiterId));
    return item && waiterOf(item);
  }

  async listWaiters(eventId: string, runId?: string): Promise<WorkflowWaiter[]> {
    const shards =
      runId === undefined
        ? Array.from({ length: WAITER_SHARDS }, (_, shard) => shard)
        : [shardOf(runId, WAITER_SHARDS)];
    const waiterIds: string[] = [];
    await mapLimit(shards, WAITER_SHARDS, async (shard) => {
      const b = new ExpressionBuilder();
      const entries = await this.#calls.queryAll({
        KeyConditionExpression: `${b.name(PK)} = ${b.value(waiterIndexPk(eventId, shard))}`,
        ...b.parts(),
        ConsistentRead: true,
      });
      for (const entry of entries) {
        if (runId === undefined || entry.runId === runId) waiterIds.push(entry.waiterId as string);
      }
    });
    const items = await this.#calls.batchGet(waiterIds.map(waiterKey), true);
    return items
      .map(waiterOf)
      .filter((waiter) => waiter.claimedBy === undefined && waiter.eventId === eventId)
      .sort((a, b) =>
        a.createdAt === b.createdAt
          ? a.waiterId < b.waiterId
            ? -1
            : 1
          : a.createdAt - b.createdAt,
      );
  }

  async claimWaiter(waiterId: string, messageId: string): Promise<WaiterClaim> {
    const b = new ExpressionBuilder();
    const claimedBy = b.name('claimedBy');
    const by = b.value(messageId);
    let claimed: Item | undefined;
    try {
      claimed = await this.#calls.update(waiterKey(waiterId), {
        UpdateExpression: `SET ${claimedBy} = ${by}`,
        ConditionExpression: `attribute_exists(${b.name(PK)}) AND (attribute_not_exists(${claimedBy}) OR ${claimedBy} = ${by})`,
        ReturnValues: 'ALL_NEW',
        ...b.parts(),
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await this.#calls.get(waiterKey(waiterId))) ? 'taken' : 'missing';
    }
    // Resolved: notifies need not read it again.
    await this.#calls.delete(waiterIndexKey(waiterOf(claimed!)));
    return 'claimed';
  }

  async putNotification(notification: WorkflowNotification): Promise<void> {
    const key = {
      pk: runPk(notification.runId),
      sk: `${notePrefix(notification.eventId, notification.webhook === true)}${padTime(notification.createdAt)}#${nextWriterToken()}`,
    };
    const ttl = this.#liveTtl();
    const tag = newPartsTag();
    const data = splitPayload(key, 'D', notification.data, ITEM_PAYLOAD_BYTES, { ttl, tag });
    await this.#calls.batchWrite(data.parts);
    await this.#calls.put({
      ...key,
      eventId: notification.eventId,
      createdAt: notification.createdAt,
      data: data.inline,
      partsTag: tag,
      dataParts: data.parts.length,
      [TTL]: ttl,
    });
  }

  async takeNotification(
    runId: string,
    eventId: string,
    webhook: boolean,
  ): Promise<WorkflowNotification | undefined> {
    for (;;) {
      const b = new ExpressionBuilder();
      const output = await this.#calls.queryPage({
        KeyConditionExpression: `${b.name(PK)} = ${b.value(runPk(runId))} AND begins_with(${b.name(SK)}, ${b.value(notePrefix(eventId, webhook))})`,
        ...b.parts(),
        ConsistentRead: true,
        // An item sorts before its parts, so the first is the oldest notification.
        Limit: 1,
      });
      const oldest = output.Items?.[0];
      if (!oldest) return undefined;
      const taken = await this.#deleteIfThere(oldest);
      if (!taken) continue;
      const partCount = taken.dataParts as number;
      const parts =
        partCount > 0 ? await readParts(this.#calls, runPk(runId), oldest[SK] as string) : [];
      await this.#calls.batchWrite([], partKeys(taken, 'D', partCount));
      return {
        runId,
        eventId,
        data: joinPayload(taken.data as Uint8Array | undefined, taken, 'D', parts),
        createdAt: taken.createdAt as number,
        ...(webhook && { webhook: true }),
      };
    }
  }

  async deleteWaits(runId: string): Promise<void> {
    const [marks, notes] = await Promise.all([
      this.#queryRun(runId, 'WAIT#'),
      this.#queryRun(runId, 'NOTE#'),
    ]);
    const waiters = await this.#calls.batchGet(
      marks.map((mark) => waiterKey((mark[SK] as string).slice('WAIT#'.length))),
      true,
    );
    await this.#calls.batchWrite(
      [],
      [
        ...marks.map(keyOf),
        ...notes.map(keyOf),
        ...waiters.flatMap((item) => [keyOf(item), waiterIndexKey(waiterOf(item))]),
      ],
    );
  }

  /**
   * Changes the run as `change` says (undefined: no change) if no other write came between its
   * read and its write. A run that ends (succeeds, fails or is canceled) is then kept for the
   * retention from `atMs`, with every item of its partition and its index entry.
   */
  async #changeRun(
    runId: string,
    atMs: number,
    change: (run: WorkflowRun) => WorkflowRun | undefined,
  ): Promise<WorkflowRun | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      const read = await this.#readRun(runId);
      if (!read) return undefined;
      const changed = change(read.run);
      if (!changed) return undefined;
      const ended = changed.state !== read.run.state;
      const ttl = ended ? ttlOf(atMs + this.#retention()) : (read.item[TTL] as number);
      const { item, parts } = runItems(changed, (read.item.v as number) + 1, ttl);
      await this.#calls.batchWrite(parts);
      const b = new ExpressionBuilder();
      try {
        await this.#calls.put(item, {
          ConditionExpression: `${b.name('v')} = ${b.value(read.item.v)}`,
          ...b.parts(),
        });
      } catch (error) {
        if (!(error instanceof ConditionFailedError) || attempt === RACE_ATTEMPTS) throw error;
        await this.#calls.batchWrite([], parts.map(keyOf));
        continue;
      }
      await this.#calls.batchWrite([], partKeys(read.item, 'D', read.item.dataParts as number));
      if (ended) await this.#keepFor(changed, ttl);
      return changed;
    }
  }

  /** Gives the run's other items and its index entry `ttl`, where theirs is later. */
  async #keepFor(run: WorkflowRun, ttl: number): Promise<void> {
    const items = await this.#queryRun(run.runId);
    const keys = [
      ...items.filter((item) => item[SK] !== RUN_SK && (item[TTL] as number) > ttl).map(keyOf),
      this.#indexKey(run),
    ];
    await mapLimit(keys, PARALLEL_CALLS, async (key) => {
      const b = new ExpressionBuilder();
      try {
        await this.#calls.update(key, {
          UpdateExpression: `SET ${b.name(TTL)} = ${b.value(ttl)}`,
          // Never brings back an item deleted meanwhile (a taken notification).
          ConditionExpression: `attribute_exists(${b.name(PK)})`,
          ...b.parts(),
        });
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    });
  }

  async #readRun(runId: string): Promise<{ run: WorkflowRun; item: Item } | undefined> {
    const item = await this.#calls.get(runKey(runId));
    if (!item) return undefined;
    return { run: await this.#decodeRun(item), item };
  }

  async #readRuns(runIds: readonly string[]): Promise<Map<string, WorkflowRun>> {
    const items = await this.#calls.batchGet([...new Set(runIds)].map(runKey), true);
    const runs = new Map<string, WorkflowRun>();
    await mapLimit(items, PARALLEL_CALLS, async (item) => {
      const run = await this.#decodeRun(item);
      runs.set(run.runId, run);
    });
    return runs;
  }

  async #decodeRun(item: Item): Promise<WorkflowRun> {
    const parts =
      (item.dataParts as number) > 0
        ? await readParts(this.#calls, item[PK] as string, RUN_SK)
        : [];
    const data = joinPayload(item.data as Uint8Array | undefined, item, 'D', parts);
    return JSON.parse(Buffer.from(data).toString('utf8')) as WorkflowRun;
  }

  async #lastSeq(runId: string): Promise<number> {
    const b = new ExpressionBuilder();
    const output = await this.#calls.queryPage({
      KeyConditionExpression: `${b.name(PK)} = ${b.value(runPk(runId))} AND begins_with(${b.name(SK)}, ${b.value('STEP#')})`,
      ...b.parts(),
      ConsistentRead: true,
      ScanIndexForward: false,
      Limit: 1,
    });
    const last = output.Items?.[0]?.[SK] as string | undefined;
    // A step's parts sort after it and share its place.
    return last === undefined
      ? -1
      : Number(last.slice('STEP#'.length, 'STEP#'.length + SEQ_DIGITS));
  }

  /** The items of the run's partition whose sort key starts with `prefix` (all, without). */
  async #queryRun(runId: string, prefix?: string): Promise<Item[]> {
    const b = new ExpressionBuilder();
    const partition = `${b.name(PK)} = ${b.value(runPk(runId))}`;
    return this.#calls.queryAll({
      KeyConditionExpression:
        prefix === undefined
          ? partition
          : `${partition} AND begins_with(${b.name(SK)}, ${b.value(prefix)})`,
      ...b.parts(),
      ConsistentRead: true,
    });
  }

  /** Removes an item if it is there; resolves what was removed, or undefined. */
  async #deleteIfThere(item: Item): Promise<Item | undefined> {
    try {
      return await this.#calls.delete(keyOf(item), {
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
        ReturnValues: 'ALL_OLD',
      });
    } catch (error) {
      if (error instanceof ConditionFailedError) return undefined;
      throw error;
    }
  }

  #indexKey(run: Pick<WorkflowRun, 'runId' | 'createdAt'>): Key {
    return this.#index.key(
      run.createdAt,
      positionOf(run),
      shardOf(run.runId, RUN_INDEX_SHARDS),
    ) as Key;
  }

  #indexItem(run: WorkflowRun, ttl: number): Item {
    return {
      ...this.#indexKey(run),
      runId: run.runId,
      url: run.url,
      createdAt: run.createdAt,
      labels: [...run.labels],
      callerIp: run.callerIp,
      [TTL]: ttl,
    };
  }

  /** The ttl of an item of a run that goes on: a message of it may wait up to a year. */
  #liveTtl(): number {
    return ttlOf(this.#options.clock.now() + MAX_WAIT_MS + this.#retention());
  }

  #retention(): number {
    return this.#options.retentionMs;
  }
}

function runPk(runId: string): string {
  return `WFR#${runId}`;
}

function runKey(runId: string): Key {
  return { pk: runPk(runId), sk: RUN_SK };
}

function messageKey(runId: string, messageId: string): Key {
  return { pk: runPk(runId), sk: `MSG#${messageId}` };
}

function stepSk(seq: number): string {
  return `STEP#${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

function waiterKey(waiterId: string): Key {
  return { pk: `WAITER#${waiterId}`, sk: 'WAITER' };
}

function waiterIndexPk(eventId: string, shard: number): string {
  return `WAITEV#${eventId}#${shard}`;
}

function waiterIndexKey(
  waiter: Pick<WorkflowWaiter, 'eventId' | 'runId' | 'createdAt' | 'waiterId'>,
): Key {
  return {
    pk: waiterIndexPk(waiter.eventId, shardOf(waiter.runId, WAITER_SHARDS)),
    sk: `${padTime(waiter.createdAt)}#${waiter.waiterId}`,
  };
}

/** Notifications of one event and kind: event ids may hold any character, so a digest names them. */
function notePrefix(eventId: string, webhook: boolean): string {
  return `NOTE#${webhook ? 1 : 0}#${createHash('sha256').update(eventId).digest('base64url')}#`;
}

function keyOf(item: Item): Key {
  return { pk: item[PK] as string, sk: item[SK] as string };
}

function notExists(): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  return {
    ConditionExpression: 'attribute_not_exists(#pk)',
    ExpressionAttributeNames: { '#pk': PK },
  };
}

function messageItem(
  runId: string,
  messageId: string,
  createdAt: number,
  ttl: number,
  seq: number,
): Item {
  return { ...messageKey(runId, messageId), messageId, createdAt, seq, [TTL]: ttl };
}

function stepItems(
  runId: string,
  seq: number,
  step: NewWorkflowStep,
  ttl: number,
): { item: Item; parts: Item[] } {
  const key = { pk: runPk(runId), sk: stepSk(seq) };
  const tag = newPartsTag();
  // Written in a transaction, which bills every KB twice: the rest of a large body goes in parts.
  const body = splitPayload(key, 'B', step.body, SMALL_INLINE_BYTES, { ttl, tag });
  return {
    item: {
      ...key,
      seq,
      messageId: step.messageId,
      callType: step.callType,
      createdAt: step.createdAt,
      body: body.inline,
      partsTag: tag,
      [TTL]: ttl,
    },
    parts: body.parts,
  };
}

function runItems(run: WorkflowRun, v: number, ttl: number): { item: Item; parts: Item[] } {
  const key = runKey(run.runId);
  const tag = newPartsTag();
  const data = splitPayload(
    key,
    'D',
    Buffer.from(JSON.stringify(run), 'utf8'),
    ITEM_PAYLOAD_BYTES,
    { ttl, tag },
  );
  return {
    item: { ...key, data: data.inline, partsTag: tag, dataParts: data.parts.length, v, [TTL]: ttl },
    parts: data.parts,
  };
}

function waiterOf(item: Item): WorkflowWaiter {
  const fields = JSON.parse(item.data as string) as Omit<WorkflowWaiter, 'claimedBy'>;
  return item.claimedBy === undefined ? fields : { ...fields, claimedBy: item.claimedBy as string };
}

function positionOf(run: Pick<WorkflowRun, 'runId' | 'createdAt'>): string {
  return `${padTime(run.createdAt)}#${run.runId}`;
}

function isAfter(position: string, after: string | undefined): boolean {
  return after === undefined || position < after;
}

/** What a run index entry holds: the run's fields that never change. */
type RunView = Pick<WorkflowRun, 'runId' | 'url' | 'createdAt' | 'labels' | 'callerIp'>;

function indexView(entry: Item): RunView {
  return {
    runId: entry.runId as string,
    url: entry.url as string,
    createdAt: entry.createdAt as number,
    labels: (entry.labels as string[] | undefined) ?? [],
    ...(entry.callerIp !== undefined && { callerIp: entry.callerIp as string }),
  };
}

/** The filters on fields a run never changes, which its index entry holds. */
function matchesStatic(filter: WorkflowRunFilter, run: RunView): boolean {
  const { runIds, urls, urlPrefixes, labels, callerIps, createdAt, fromDate, toDate } = filter;
  return (
    (runIds === undefined || runIds.includes(run.runId)) &&
    (urls === undefined || urls.includes(run.url)) &&
    (urlPrefixes === undefined || urlPrefixes.some((prefix) => run.url.startsWith(prefix))) &&
    (labels === undefined || labels.some((label) => run.labels.includes(label))) &&
    (callerIps === undefined || (run.callerIp !== undefined && callerIps.includes(run.callerIp))) &&
    (createdAt === undefined || run.createdAt === createdAt) &&
    (fromDate === undefined || run.createdAt >= fromDate) &&
    (toDate === undefined || run.createdAt <= toDate)
  );
}

function matchesRun(filter: WorkflowRunFilter, run: WorkflowRun): boolean {
  return (
    matchesStatic(filter, run) &&
    (filter.states === undefined || filter.states.includes(run.state)) &&
    (!filter.failed || run.dlqId !== undefined)
  );
}
