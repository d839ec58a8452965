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
import { DynamoWorkflowWaits } from './dynamo-workflow-waits';
import { MAX_WAIT_MS } from './message-router';
import { TABLE, ttlOf } from './table';
import {
  decodeCursor,
  encodeCursor,
  padTime,
  rangeOfDates,
  shardOf,
  TimeIndex,
} from './time-index';
import { keyOf, notExists, queryRun, runPk } from './workflow-run-partition';

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
  readonly #waits: DynamoWorkflowWaits;

  constructor(calls: DynamoCalls, options: DynamoWorkflowRunStoreOptions) {
    this.#calls = calls;
    this.#index = new TimeIndex(calls, 'WFRX', RUN_INDEX_SHARDS);
    this.#options = options;
    this.#waits = new DynamoWorkflowWaits(calls, {
      ...options,
      liveTtl: () => this.#liveTtl(),
    });
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
    const items = await queryRun(this.#calls, runId, 'MSG#');
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

  putWaiter(waiter: WorkflowWaiter): Promise<void> {
    return this.#waits.putWaiter(waiter);
  }

  getWaiter(waiterId: string): Promise<WorkflowWaiter | undefined> {
    return this.#waits.getWaiter(waiterId);
  }

  listWaiters(eventId: string, runId?: string): Promise<WorkflowWaiter[]> {
    return this.#waits.listWaiters(eventId, runId);
  }

  claimWaiter(waiterId: string, messageId: string): Promise<WaiterClaim> {
    return this.#waits.claimWaiter(waiterId, messageId);
  }

  putNotification(notification: WorkflowNotification): Promise<void> {
    return this.#waits.putNotification(notification);
  }

  takeNotification(
    runId: string,
    eventId: string,
    webhook: boolean,
  ): Promise<WorkflowNotification | undefined> {
    return this.#waits.takeNotification(runId, eventId, webhook);
  }

  deleteWaits(runId: string): Promise<void> {
    return this.#waits.deleteWaits(runId);
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
    const items = await queryRun(this.#calls, run.runId);
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

function runKey(runId: string): Key {
  return { pk: runPk(runId), sk: RUN_SK };
}

function messageKey(runId: string, messageId: string): Key {
  return { pk: runPk(runId), sk: `MSG#${messageId}` };
}

function stepSk(seq: number): string {
  return `STEP#${String(seq).padStart(SEQ_DIGITS, '0')}`;
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
