/**
 * The AWS runtime's MessageStore: SQS carries the message, DynamoDB keeps what must be queried
 * (message-partition.ts for the items, message-router.ts for how a message reaches its attempt).
 *
 * - insertMessages: each dedup claim first (dedup-claims.ts), so a duplicate enqueues nothing;
 *   then the router makes the new messages deliverable; then the claims are confirmed. Several
 *   messages (a fan-out, a batch) are all or none: their entries and records name the publish,
 *   whose `PUB#<id>` item is written after the last of them was accepted; an attempt waits for
 *   it, and once the publish could no longer be running (commitWindowMs) a message without it
 *   is dropped, or, when recorded, ends CANCELED.
 * - settleAttempts: the settlements of one delivery batch together. First whatever they send
 *   (callbacks, retries: `SendMessageBatch`), each entry naming the settlement by its lease
 *   token; then one event-index item; then each settlement's outcome item, conditionally: the
 *   commit. A settlement that finds its attempt settled already is stale and changes nothing;
 *   the entries it sent name a token no outcome item holds, and are dropped when received
 *   (prepareAttempt). A failed outcome commits in one transaction with its dead letter. Then the
 *   FIFO place is handed on and the pending entry removed.
 * - cancelMessages: a message known to wait (its next attempt not due yet, or still in its FIFO
 *   queue's line) ends CANCELED at once; one that may be under way is marked, and its
 *   settlement, or its entry when received, ends it. A message SQS carries alone before its
 *   first outcome is unknown to DynamoDB, and is not found.
 */
import { randomBytes } from 'node:crypto';
import type { LogEvent, Message } from '../../core/message';
import {
  cancelEvents,
  canceledEvent,
  canceledSettlement,
  matchesMessageFilter,
} from '../../core/messages';
import type { Clock } from '../../ports/clock';
import type { MessageFilter } from '../../ports/listing';
import type {
  AttemptSettlement,
  DedupClaim,
  InsertResult,
  MessageStore,
  NewMessage,
} from '../../ports/message-store';
import type { DedupClaims } from './dedup-claims';
import type { DynamoCalls, Item, TransactItem } from './dynamo-calls';
import {
  ConditionFailedError,
  DynamoStoreError,
  mapLimit,
  PARALLEL_CALLS,
  RACE_ATTEMPTS,
  TransactionConditionError,
} from './dynamo-calls';
import type { DynamoDeadLetterStore } from './dynamo-dead-letter-store';
import type { EventIndex, IndexEntry } from './dynamo-event-log';
import type { DynamoFlowControl, WaitingAttempt } from './dynamo-flow-control';
import type { DynamoQueueStore } from './dynamo-queue-store';
import { hasFreePlace } from './dynamo-queue-store';
import type { AttemptLog, EventGroup, MessageHistory, Outcome } from './message-partition';
import { finalLog, logItems, nextAttempt, partitionKeys, readHistory } from './message-partition';
import type { MessageRouter, PlannedEntry } from './message-router';
import type { PendingIndex } from './pending-index';
import type { AttemptEntry } from './sqs-entries';
import { encodeAttempt } from './sqs-entries';
import { TABLE } from './table';
import { nextWriterToken } from './time-index';

/** The condition of a first write of an outcome item. */
const ABSENT = {
  ConditionExpression: 'attribute_not_exists(#sk)',
  ExpressionAttributeNames: { '#sk': TABLE.sortKey },
};
/** The condition of completing a cancel mark. */
const MARKED = {
  ConditionExpression: '#outcome = :mark',
  ExpressionAttributeNames: { '#outcome': 'outcome' },
  ExpressionAttributeValues: { ':mark': 'cancel-requested' },
};
/** A message whose next attempt is due this close is taken as possibly under way. */
const UNDER_WAY_MARGIN_MS = 1_000;
/** How long an entry waits for the settlement that sent it to be applied. */
const UNAPPLIED_WAIT_MS = 2_000;
const TOKEN_BYTES = 9;

/**
 * What an attempt's lease says on AWS (AttemptSettlement.lease, JSON): the settlement's token,
 * the FIFO queue whose place the message holds, whether it has a record and a pending entry.
 */
type Lease = {
  readonly t: string;
  readonly q?: string;
  readonly r?: boolean;
  readonly p?: boolean;
  /** The SQS message id of the entry attempted: what FIFO starts it makes are named after. */
  readonly b?: string;
};

/** What the delivery function does with an attempt entry (prepareAttempt). */
export type EntryDecision =
  | {
      readonly kind: 'attempt';
      readonly message: Message;
      readonly retried: number;
      readonly lease: string;
    }
  | { readonly kind: 'postpone'; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'drop'; readonly reason: string };

export type DynamoMessageStoreOptions = {
  /**
   * Whether a freed FIFO place starts the next message here and now (the delivery and
   * dead-letter functions: an SQS entry received again after a crash redoes it), or through a
   * `{"pump"}` entry (the API, which has no entry to redo anything with).
   */
  readonly pumpInline: boolean;
  readonly calls: DynamoCalls;
  readonly router: MessageRouter;
  readonly claims: DedupClaims;
  readonly events: EventIndex;
  readonly deadLetters: DynamoDeadLetterStore;
  readonly queues: DynamoQueueStore;
  readonly flowControl: DynamoFlowControl;
  readonly pending: PendingIndex;
  readonly clock: Clock;
  /**
   * Longer than a publish can take (the API function's timeout and a margin): a message of a
   * publish not committed by then never will be.
   */
  readonly commitWindowMs: number;
};

/** Publishes known to have committed, kept for the function instance (a commit is for ever). */
const MAX_KNOWN_COMMITS = 10_000;

export class DynamoMessageStore implements MessageStore {
  readonly #o: DynamoMessageStoreOptions;
  readonly #committed = new Set<string>();

  constructor(options: DynamoMessageStoreOptions) {
    this.#o = options;
  }

  async insertMessage(
    message: Message,
    dedup: DedupClaim | undefined,
    nowMs: number,
  ): Promise<InsertResult> {
    return (await this.insertMessages([{ message, ...(dedup && { dedup }) }], nowMs))[0]!;
  }

  async insertMessages(messages: readonly NewMessage[], nowMs: number): Promise<InsertResult[]> {
    const { claims, router } = this.#o;
    const results: InsertResult[] = new Array(messages.length);
    const claimed: NewMessage[] = [];
    await mapLimit(messages, PARALLEL_CALLS, async (entry, index) => {
      if (entry.dedup) {
        const claim = await claims.claim(entry.dedup, entry.message.messageId, nowMs);
        if (!claim.claimed) {
          results[index] = { inserted: false, existingMessageId: claim.holder };
          return;
        }
        claimed.push(entry);
      }
      results[index] = { inserted: true };
    });
    const accepted = messages.filter((_, index) => results[index]!.inserted).map((e) => e.message);
    // Several messages are all accepted or none: each names their publish, attempted only once
    // the publish's commit item is written, after the last of them was sent.
    const publish =
      accepted.length > 1 ? `pub_${randomBytes(TOKEN_BYTES).toString('base64url')}` : undefined;
    try {
      await router.accept(accepted, nowMs, publish);
      if (publish !== undefined) {
        const lastDue = Math.max(...accepted.map((message) => message.notBefore));
        await this.#o.calls.put({
          ...publishKey(publish),
          [TABLE.ttlAttribute]: router.ttlAfter(Math.max(lastDue, nowMs) + this.#o.commitWindowMs),
        });
      }
    } catch (error) {
      // Nothing can hold the keys now; a retried publish may take them again.
      await mapLimit(claimed, PARALLEL_CALLS, (entry) =>
        claims.release(entry.dedup!, entry.message.messageId),
      ).catch(() => {});
      throw error;
    }
    await mapLimit(claimed, PARALLEL_CALLS, (entry) =>
      claims.confirm(entry.dedup!, entry.message.messageId),
    );
    return results;
  }

  async getMessage(messageId: string): Promise<Message | undefined> {
    const history = await readHistory(this.#o.calls, messageId);
    const ended = history && finalLog(history);
    if (ended?.outcome === 'failed' && ended.dlqId !== undefined) {
      return (await this.#o.deadLetters.getDeadLetter(ended.dlqId))?.message;
    }
    if (ended) return undefined;
    const next = nextAttempt(history);
    return next.kind === 'pending' ? next.message : undefined;
  }

  async getPendingMessage(messageId: string): Promise<Message | undefined> {
    const next = nextAttempt(await readHistory(this.#o.calls, messageId));
    return next.kind === 'pending' ? next.message : undefined;
  }

  async settleAttempt(settlement: AttemptSettlement): Promise<AttemptSettlement | undefined> {
    return (await this.settleAttempts([settlement]))[0];
  }

  /** Settles several attempts together (one delivery batch); see the file header. */
  async settleAttempts(
    settlements: readonly AttemptSettlement[],
  ): Promise<(AttemptSettlement | undefined)[]> {
    if (settlements.length === 0) return [];
    const leases = await Promise.all(settlements.map((s) => this.#leaseOf(s)));
    // 1. What the settlements send, each entry naming its settlement's token.
    const planned: PlannedEntry[] = [];
    const wakes: (() => Promise<void>)[] = [];
    const pendingPuts: Item[] = [];
    const { router } = this.#o;
    settlements.forEach((settlement, index) => {
      const lease = leases[index]!;
      const { message, retried, outcome } = settlement;
      for (const callback of settlement.callbacks) {
        const extra = {
          sentBy: lease.t,
          source: { messageId: message.messageId, retried },
          ...(lease.q !== undefined && { fifo: lease.q }),
        };
        if (router.needsRecord(callback)) {
          // Its record is written once the settlement is applied and keeps it (below).
          planned.push({
            entry: router.recordedEntry(callback, 0, extra),
            dueAt: callback.notBefore,
          });
        } else {
          planned.push({
            entry: {
              kind: 'attempt',
              messageId: callback.messageId,
              message: callback,
              retried: 0,
              ...extra,
            },
            dueAt: callback.notBefore,
          });
        }
      }
      if (outcome.kind === 'retry') {
        if (!lease.p)
          pendingPuts.push(this.#o.pending.item(message, router.ttlAfter(outcome.retryAt)));
        if (router.fitsDelay(outcome.retryAt)) {
          planned.push({
            entry: withReference({
              kind: 'attempt',
              messageId: message.messageId,
              message,
              retried: retried + 1,
              sentBy: lease.t,
              ...(lease.q !== undefined && { fifo: lease.q }),
              ...(lease.r && { recorded: true }),
            }),
            dueAt: outcome.retryAt,
          });
        } else {
          wakes.push(() => router.wakeAt(message.messageId, outcome.retryAt, lease.t));
        }
      }
    });
    await this.#o.calls.batchWrite(pendingPuts);
    await router.send(planned);
    for (const wake of wakes) await wake();

    // 2. One index item for every outcome item this batch writes.
    const at = Math.max(
      ...settlements.flatMap((s) => s.events.map((event) => event.time)),
      ...settlements.map((s) => s.message.createdAt),
    );
    const w = nextWriterToken();
    const entries: IndexEntry[] = settlements.map((s) => ({
      messageId: s.message.messageId,
      item: partitionKeys.log(s.message.messageId, s.retried).sk,
    }));
    await this.#o.events.announce(at, w, entries, router.ttlAfter(at));

    // 3. Commit each, then what follows from it.
    const applied: (AttemptSettlement | undefined)[] = new Array(settlements.length);
    await mapLimit(settlements, PARALLEL_CALLS, async (settlement, i) => {
      const lease = leases[i]!;
      // A message SQS carried alone is recorded with its first outcome, CREATED event included.
      const created =
        settlement.retried === 0 && !lease.r ? [createdEvent(settlement.message)] : [];
      const result = await this.#commit(settlement, lease, [...created, ...settlement.events], {
        at,
        w,
        i,
      });
      applied[i] = result;
      if (result)
        await this.#afterOutcome(
          result.message,
          outcomeOf(result),
          lease,
          result.callbacks.map((c) => c.messageId),
          attemptOf(result),
        );
    });
    // The callbacks the applied settlements kept, recorded when they need to be. A callback's
    // entry carries the callback itself (unless it is too large for SQS), so it is delivered
    // whether or not this record is written.
    const kept = applied.flatMap((result) => result?.callbacks ?? []);
    await router.record(
      kept.filter((callback) => router.needsRecord(callback)),
      this.#o.clock.now(),
    );
    return applied;
  }

  async cancelMessages(filter: MessageFilter, nowMs: number, limit?: number): Promise<number> {
    const ids =
      filter.messageIds !== undefined
        ? [...new Set(filter.messageIds)]
        : await this.#o.pending.candidates(filter);
    let cancelled = 0;
    if (limit === undefined) {
      await mapLimit(ids, PARALLEL_CALLS, async (messageId) => {
        if (await this.#cancelOne(messageId, filter, nowMs)) cancelled += 1;
      });
      return cancelled;
    }
    // The earliest created first (ids are time-ordered), one at a time, so that no more than
    // `limit` are canceled however many of the candidates a settlement takes meanwhile.
    for (const messageId of ids.sort()) {
      if (cancelled === limit) break;
      if (await this.#cancelOne(messageId, filter, nowMs)) cancelled += 1;
    }
    return cancelled;
  }

  /** Whether a publish of several messages committed (a strongly consistent read, once). */
  async #hasCommitted(publish: string): Promise<boolean> {
    if (this.#committed.has(publish)) return true;
    const item = await this.#o.calls.get(publishKey(publish));
    if (!item) return false;
    if (this.#committed.size >= MAX_KNOWN_COMMITS) this.#committed.clear();
    this.#committed.add(publish);
    return true;
  }

  /**
   * What to do with an attempt entry the delivery function received: attempt it (with the
   * message and the lease to settle with), wait for the settlement that sent it, or drop it
   * (stale, already settled, canceled). The usual first attempt needs no read at all.
   */
  async prepareAttempt(
    entry: AttemptEntry,
    receiveCount: number,
    by?: string,
  ): Promise<EntryDecision> {
    const { calls, clock } = this.#o;
    const now = clock.now();
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const needsHistory =
      entry.recorded || entry.retried > 0 || entry.source || receiveCount > 1 || !entry.message;
    let message = entry.message;
    let dueAt = message?.notBefore;
    let recorded = entry.recorded === true;
    let history: MessageHistory | undefined;
    if (needsHistory) {
      history = await readHistory(calls, entry.messageId);
      const log = history?.logs.get(entry.retried);
      if (history && log && log.outcome !== 'cancel-requested') {
        // Settled already: make sure what followed from it happened (a crash may have cut it).
        if (finalLog(history) === log || log.outcome === 'retry') {
          const lease = {
            ...leaseOfEntry(entry, log.token ?? token, history),
            ...(by !== undefined && { b: by }),
          };
          await this.#afterOutcome(log.message, log.outcome, lease, log.callbacks, {
            retried: entry.retried,
            ...(log.retryAt !== undefined && { retryAt: log.retryAt }),
          });
        }
        return { kind: 'drop', reason: 'its attempt was settled already' };
      }
      const ended = history && finalLog(history);
      if (ended) {
        // Ended while it waited for a flow-control slot, which this entry may have taken.
        await this.#o.flowControl.settle(ended.message, entry.retried, 'dropped', by);
        return { kind: 'drop', reason: 'the message ended' };
      }
      if (history && log?.outcome === 'cancel-requested') {
        await this.#endCanceled(history, entry.retried, {
          ...leaseOfEntry(entry, token, history),
          ...(by !== undefined && { b: by }),
        });
        return { kind: 'drop', reason: 'the message was canceled' };
      }
      if (entry.retried > 0) {
        const previous = history?.logs.get(entry.retried - 1);
        if (!previous) return unapplied('its previous attempt is not settled yet');
        if (previous.outcome !== 'retry' || previous.token !== entry.sentBy) {
          return { kind: 'drop', reason: 'a settlement that was not applied sent it' };
        }
        message ??= previous.message;
        dueAt = previous.retryAt;
      } else if (!message) {
        message = history?.record?.message;
      }
      recorded ||= history?.record !== undefined;
      if (!message) return unapplied('its record is not there yet');
    }
    if (entry.source) {
      const source = await readHistory(calls, entry.source.messageId);
      const sourceLog = source?.logs.get(entry.source.retried);
      if (!sourceLog || sourceLog.outcome === 'cancel-requested') {
        return unapplied('the settlement of its source is not applied yet');
      }
      if (sourceLog.token !== entry.sentBy || !sourceLog.callbacks.includes(entry.messageId)) {
        return { kind: 'drop', reason: 'a settlement that was not applied sent it' };
      }
    }
    const publish = entry.retried === 0 ? (entry.publish ?? history?.record?.publish) : undefined;
    if (publish !== undefined && !(await this.#hasCommitted(publish))) {
      if (now - message!.createdAt < this.#o.commitWindowMs) {
        return unapplied('the publish it is part of has not committed yet');
      }
      // That publish died before it committed: none of its messages may arrive. A recorded one
      // ends CANCELED, so that nothing waits for it (its FIFO place, the pending index).
      if (history?.record) {
        await this.#endCanceled(history, 0, {
          ...leaseOfEntry(entry, token, history),
          ...(by !== undefined && { b: by }),
        });
      }
      return { kind: 'drop', reason: 'the publish it is part of never committed' };
    }
    if (dueAt !== undefined && dueAt > now) {
      return { kind: 'postpone', delayMs: dueAt - now, reason: 'not due yet' };
    }
    const flow = message!.flowControl;
    if (flow !== undefined) {
      const attempt: WaitingAttempt = {
        messageId: entry.messageId,
        retried: entry.retried,
        ...(entry.sentBy !== undefined && { sentBy: entry.sentBy }),
        ...(entry.source && { source: entry.source }),
        ...(entry.fifo !== undefined && { fifo: entry.fifo }),
        ...(publish !== undefined && { publish }),
      };
      if (!(await this.#o.flowControl.admit(flow.key, attempt, by ?? token))) {
        return { kind: 'drop', reason: 'it waits in its flow-control key for a slot' };
      }
    }
    const lease: Lease = {
      t: token,
      ...((entry.fifo ?? message!.queueName) !== undefined && {
        q: entry.fifo ?? message!.queueName,
      }),
      ...(recorded && { r: true }),
      ...((recorded || entry.retried > 0) && { p: true }),
      ...(by !== undefined && { b: by }),
    };
    return {
      kind: 'attempt',
      message: message!,
      retried: entry.retried,
      lease: JSON.stringify(lease),
    };
  }

  /**
   * Commits one settlement's outcome item; resolves with the settlement as applied, or
   * undefined when it was stale.
   */
  async #commit(
    settlement: AttemptSettlement,
    lease: Lease,
    events: readonly LogEvent[],
    place: Omit<EventGroup, 'events'>,
  ): Promise<AttemptSettlement | undefined> {
    const { calls, router, deadLetters } = this.#o;
    const { message, retried } = settlement;
    const write = async (applied: AttemptSettlement, marker?: AttemptLog) => {
      const outcome = outcomeOf(applied);
      const items = logItems({
        retried,
        outcome,
        token: lease.t,
        message,
        ...(applied.outcome.kind === 'retry' && { retryAt: applied.outcome.retryAt }),
        ...(applied.outcome.kind === 'failed' && { dlqId: applied.outcome.deadLetter.dlqId }),
        callbacks: applied.callbacks.map((callback) => callback.messageId),
        // Completing a cancel mark, which holds CANCEL_REQUESTED: the applied attempt's events.
        groups: [...(marker?.groups ?? []), { ...place, events: marker ? applied.events : events }],
        ttl: router.ttlAfter(place.at),
      });
      const logItem = items.at(-1)!;
      await calls.batchWrite(items.slice(0, -1));
      const condition = marker ? MARKED : ABSENT;
      if (applied.outcome.kind !== 'failed') {
        await calls.put(logItem, condition);
        return;
      }
      const dead = await deadLetters.prepare(
        applied.outcome.deadLetter,
        message,
        logItem[TABLE.ttlAttribute] as number,
      );
      await calls.batchWrite(dead.parts);
      const transaction: TransactItem[] = [
        { Put: { TableName: calls.tableName, Item: logItem, ...condition } },
        { Put: { TableName: calls.tableName, Item: dead.item } },
        { Put: { TableName: calls.tableName, Item: dead.indexItem } },
      ];
      try {
        await calls.transact(transaction);
      } catch (error) {
        if (error instanceof TransactionConditionError && error.failedAt(0)) {
          throw new ConditionFailedError({ cause: error });
        }
        throw error;
      }
    };
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      try {
        await write(settlement);
        return settlement;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
      const history = await readHistory(calls, message.messageId);
      const existing = history?.logs.get(retried);
      if (!existing) continue;
      if (existing.outcome !== 'cancel-requested') return undefined;
      const applied = canceledSettlement(settlement);
      try {
        await write(applied, existing);
        return applied;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new DynamoStoreError(`settlement of ${message.messageId} kept losing races`);
  }

  /**
   * What follows an outcome: its flow-control slot freed; after a final one, its FIFO place
   * handed on or freed and its pending entry gone.
   */
  async #afterOutcome(
    message: Message,
    outcome: Outcome,
    lease: Lease,
    callbacks: readonly string[],
    attempt: { readonly retried: number; readonly retryAt?: number },
  ): Promise<void> {
    if (outcome === 'cancel-requested') return;
    if (message.flowControl !== undefined) {
      await this.#o.flowControl.settle(
        message,
        attempt.retried,
        outcome === 'retry' ? { retryAt: attempt.retryAt ?? this.#o.clock.now() } : 'final',
        this.#o.pumpInline ? lease.b : undefined,
      );
    }
    if (outcome === 'retry') return;
    const now = this.#o.clock.now();
    if (lease.q !== undefined) {
      const { queues, router, pumpInline } = this.#o;
      const release = { holder: message.messageId, heirs: callbacks };
      let released = false;
      if (pumpInline && lease.b !== undefined) {
        ({ released } = await router.pump(lease.q, lease.b, release));
      } else {
        const result = await queues.release(lease.q, release.holder, release.heirs, lease.t, now);
        released = result?.released ?? false;
        if (result && hasFreePlace(result.state)) await router.wakeQueue(lease.q);
      }
      if (!released) {
        // It ended before it started (a cancel, a store test): it leaves the line.
        const seq = (await readHistory(this.#o.calls, message.messageId))?.record?.fifo?.seq;
        if (seq !== undefined) await queues.skipWaiting(lease.q, seq, now);
      }
    }
    if (lease.p) await this.#o.calls.batchWrite([], [this.#o.pending.key(message)]);
  }

  /** Ends CANCELED a message whose cancel mark its next attempt found. */
  async #endCanceled(history: MessageHistory, retried: number, lease: Lease): Promise<void> {
    const { calls, events, router, clock } = this.#o;
    const marker = history.logs.get(retried)!;
    const now = clock.now();
    const w = nextWriterToken();
    await events.announce(
      now,
      w,
      [{ messageId: history.messageId, item: partitionKeys.log(history.messageId, retried).sk }],
      router.ttlAfter(now),
    );
    const items = logItems({
      retried,
      outcome: 'canceled',
      message: marker.message,
      callbacks: [],
      groups: [
        ...marker.groups,
        { at: now, w, i: 0, events: [canceledEvent(marker.message, marker.groups[0]?.at ?? now)] },
      ],
      ttl: router.ttlAfter(now),
    });
    try {
      await calls.put(items.at(-1)!, MARKED);
    } catch (error) {
      // Settled meanwhile: the settlement finished it.
      if (error instanceof ConditionFailedError) return;
      throw error;
    }
    await this.#afterOutcome(marker.message, 'canceled', lease, [], { retried });
  }

  async #cancelOne(messageId: string, filter: MessageFilter, nowMs: number): Promise<boolean> {
    const { calls, queues, router, events } = this.#o;
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      const history = await readHistory(calls, messageId);
      const next = nextAttempt(history);
      if (next.kind !== 'pending' || !history) return false;
      const { message } = next;
      if (!matchesMessageFilter(message, filter) || !withinDates(message, filter)) return false;
      const fifo = history.record?.fifo;
      const queueState = fifo && (await queues.state(fifo.queue));
      const inLine =
        fifo !== undefined && queueState !== undefined && fifo.seq > queueState.started;
      // Waiting for sure: still in its FIFO line, or its next attempt not due yet (SQS never
      // hands an entry over early). Otherwise it may be under way, and is only marked.
      const waiting = inLine || next.dueAt > nowMs + UNDER_WAY_MARGIN_MS;
      const key = partitionKeys.log(messageId, next.retried);
      const w = nextWriterToken();
      await events.announce(nowMs, w, [{ messageId, item: key.sk }], router.ttlAfter(nowMs));
      const items = logItems({
        retried: next.retried,
        outcome: waiting ? 'canceled' : 'cancel-requested',
        message,
        callbacks: [],
        groups: [{ at: nowMs, w, i: 0, events: cancelEvents(message, nowMs, !waiting) }],
        ttl: router.ttlAfter(nowMs),
      });
      try {
        await calls.put(items.at(-1)!, ABSENT);
      } catch (error) {
        // Settled or canceled meanwhile: look again.
        if (!(error instanceof ConditionFailedError)) throw error;
        continue;
      }
      if (waiting) {
        if (inLine) await queues.skipWaiting(fifo!.queue, fifo!.seq, nowMs);
        // A message that started in its queue gives its place back.
        const lease: Lease = { t: '', ...(!inLine && fifo && { q: fifo.queue }), p: true };
        await this.#afterOutcome(message, 'canceled', lease, [], { retried: next.retried });
      } else {
        await this.#o.flowControl.markCanceled(message);
      }
      return true;
    }
    throw new DynamoStoreError(`cancel of ${messageId} kept losing races with its delivery`);
  }

  /** A settlement's lease, or, for one made without (a store test), what its history says. */
  async #leaseOf(settlement: AttemptSettlement): Promise<Lease> {
    if (settlement.lease !== undefined) return JSON.parse(settlement.lease) as Lease;
    const history = await readHistory(this.#o.calls, settlement.message.messageId);
    const recorded = history?.record !== undefined;
    return {
      t: randomBytes(TOKEN_BYTES).toString('base64url'),
      ...(settlement.message.queueName !== undefined && { q: settlement.message.queueName }),
      ...(recorded && { r: true }),
      ...((recorded || settlement.retried > 0) && { p: true }),
    };
  }
}

/** The item a publish of several messages writes once all of them were accepted. */
function publishKey(publish: string): { pk: string; sk: string } {
  return { pk: `PUB#${publish}`, sk: 'PUB' };
}

function unapplied(reason: string): EntryDecision {
  return { kind: 'postpone', delayMs: UNAPPLIED_WAIT_MS, reason };
}

function outcomeOf(settlement: AttemptSettlement): Outcome {
  return settlement.outcome.kind;
}

function attemptOf(settlement: AttemptSettlement): { retried: number; retryAt?: number } {
  return {
    retried: settlement.retried,
    ...(settlement.outcome.kind === 'retry' && { retryAt: settlement.outcome.retryAt }),
  };
}

function createdEvent(message: Message): LogEvent {
  return {
    time: message.createdAt,
    messageId: message.messageId,
    state: 'CREATED',
    url: message.url,
  };
}

/**
 * A retry's entry, or, when the message makes it too large for SQS, a reference to the outcome
 * item that holds the message (body included) for the next attempt.
 */
function withReference(entry: AttemptEntry): AttemptEntry {
  if (encodeAttempt(entry) !== undefined) return entry;
  const { message: _message, ...reference } = entry;
  return reference;
}

function leaseOfEntry(entry: AttemptEntry, token: string, history: MessageHistory): Lease {
  const queue = entry.fifo ?? history.record?.fifo?.queue ?? entry.message?.queueName;
  const recorded = entry.recorded || history.record !== undefined;
  return {
    t: token,
    ...(queue !== undefined && { q: queue }),
    ...(recorded && { r: true }),
    ...((recorded || entry.retried > 0) && { p: true }),
  };
}

function withinDates(message: Message, filter: MessageFilter): boolean {
  return (
    (filter.fromDate === undefined || message.createdAt >= filter.fromDate) &&
    (filter.toDate === undefined || message.createdAt <= filter.toDate)
  );
}
