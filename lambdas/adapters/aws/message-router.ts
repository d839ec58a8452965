/**
 * Makes messages deliverable on AWS: the one place that decides how a message reaches its
 * attempt, for publishes, batches, fan-outs, DLQ retries, callbacks and retries alike.
 *
 * - The fast path: a message due within 15 minutes, outside a FIFO queue, small enough for an
 *   SQS entry, is one entry carrying the whole message (`SendMessageBatch`, 10 per call), and no
 *   DynamoDB write. DynamoDB hears of it with its first outcome.
 * - Recorded: a message delayed past 15 minutes, in a FIFO queue, flow-controlled, too large for
 *   an entry, or any message with `visibility: 'immediate'`, gets a record first (message-partition.ts), an
 *   event-index item for its CREATED event and a pending-index entry; then its attempt entry
 *   (due within 15 minutes), or an EventBridge Scheduler wake-up (later), or, in a FIFO queue, a
 *   place, started when the queue has room (dynamo-queue-store.ts). A flow-controlled message is
 *   counted in its key (dynamo-flow-control.ts), which decides when its attempts start.
 *
 * The delivery function's wake and pump entries come back here: a wake sends a recorded
 * message's attempt entry, a pump starts a queue's next messages.
 */
import type { Message } from '../../core/message';
import type { Clock } from '../../ports/clock';
import type { Logger } from '../../ports/logger';
import type { DynamoCalls, Item } from './dynamo-calls';
import type { EventIndex } from './dynamo-event-log';
import type { DynamoFlowControl } from './dynamo-flow-control';
import type { DynamoQueueStore, QueueState } from './dynamo-queue-store';
import { HOLE_GRACE_MS, hasFreePlace, releaseIn } from './dynamo-queue-store';
import type { EventBridgeScheduler } from './eventbridge-scheduler';
import {
  markReleased,
  nextAttempt,
  partitionKeys,
  readHistory,
  recordItems,
} from './message-partition';
import type { PendingIndex } from './pending-index';
import type { AttemptEntry } from './sqs-entries';
import { encodeAttempt, encodeEntry } from './sqs-entries';
import type { OutgoingEntry, SqsSender } from './sqs-sender';
import { MAX_SQS_DELAY_MS } from './sqs-sender';
import { ttlOf } from './table';
import { nextWriterToken } from './time-index';

/** Whether every message is recorded at publish, or only those SQS cannot carry alone. */
export type Visibility = 'eventual' | 'immediate';

/** Pumps that lose the race for a queue's state to another write are run again this often. */
const PUMP_ATTEMPTS = 20;
/** A year: the longest a message may be delayed, and so the longest a record may wait. */
export const MAX_WAIT_MS = 366 * 86_400_000;

export type MessageRouterOptions = {
  readonly calls: DynamoCalls;
  readonly sender: SqsSender;
  /** For due times past 15 minutes; a function that never has any (dead letters) has none. */
  readonly scheduler?: Pick<EventBridgeScheduler, 'scheduleWake'> &
    Partial<Pick<EventBridgeScheduler, 'scheduleFlowTimer'>>;
  readonly queues: DynamoQueueStore;
  /** Counts flow-controlled messages in their keys; reached once built (aws-storage.ts). */
  readonly flowControl: () => DynamoFlowControl;
  readonly events: EventIndex;
  readonly pending: PendingIndex;
  readonly clock: Clock;
  readonly retentionMs: number;
  readonly visibility: Visibility;
  readonly logger?: Logger;
};

/** An attempt entry to send, and when. */
export type PlannedEntry = { readonly entry: AttemptEntry; readonly dueAt: number };

export class MessageRouter {
  readonly #options: MessageRouterOptions;

  constructor(options: MessageRouterOptions) {
    this.#options = options;
  }

  get visibility(): Visibility {
    return this.#options.visibility;
  }

  /** The `ttl` of an item about a message due at `dueAt`: the retention after it is done. */
  ttlAfter(dueAt: number): number {
    const { clock, retentionMs } = this.#options;
    return ttlOf(Math.max(dueAt, clock.now()) + retentionMs);
  }

  /** Whether an entry due at `dueAt` can wait in SQS itself (at most 15 minutes ahead). */
  fitsDelay(dueAt: number): boolean {
    return this.#options.sender.fitsDelay(dueAt);
  }

  /** Whether `message` needs a record to be delivered (the fast path is everything else). */
  needsRecord(message: Message): boolean {
    return (
      this.#options.visibility === 'immediate' ||
      message.queueName !== undefined ||
      // Its attempts may wait in its key's waitlist, which starts them from the record.
      message.flowControl !== undefined ||
      !this.#options.sender.fitsDelay(message.notBefore) ||
      encodeAttempt({ kind: 'attempt', messageId: message.messageId, message, retried: 0 }) ===
        undefined
    );
  }

  /**
   * Makes new messages deliverable: records first (those that need one), then their places and
   * entries. Resolves once every message is durable in SQS or DynamoDB.
   */
  async accept(messages: readonly Message[], nowMs: number, publish?: string): Promise<void> {
    const recorded = messages.filter((message) => this.needsRecord(message));
    const fast = messages.filter((message) => !recorded.includes(message));
    const planned: PlannedEntry[] = fast.map((message) => ({
      entry: {
        kind: 'attempt',
        messageId: message.messageId,
        message,
        retried: 0,
        ...(publish !== undefined && { publish }),
      },
      dueAt: message.notBefore,
    }));
    await this.record(recorded, nowMs, publish);
    for (const message of recorded) {
      if (message.queueName !== undefined) continue;
      if (this.#options.sender.fitsDelay(message.notBefore)) {
        planned.push({ entry: this.recordedEntry(message, 0), dueAt: message.notBefore });
      }
    }
    await this.send(planned);
    for (const message of recorded) {
      if (message.queueName === undefined && !this.#options.sender.fitsDelay(message.notBefore)) {
        await this.wakeAt(message.messageId, message.notBefore);
      }
    }
  }

  /**
   * Writes the records of `messages`, with their CREATED events, pending entries and FIFO
   * places, and wakes the FIFO queues that may start one of them. `publish` names the publish of
   * several messages they belong to (DynamoMessageStore.insertMessages).
   */
  async record(messages: readonly Message[], nowMs: number, publish?: string): Promise<void> {
    if (messages.length === 0) return;
    const { calls, events, pending, queues } = this.#options;
    const places = new Map<string, number>();
    const startable = new Set<string>();
    // A queue's places are taken in publish order, all of one call's at once.
    const byQueue = new Map<string, Message[]>();
    for (const message of messages) {
      if (message.queueName === undefined) continue;
      byQueue.set(message.queueName, [...(byQueue.get(message.queueName) ?? []), message]);
    }
    for (const [queueName, queued] of byQueue) {
      const { seq, state } = await queues.assign(queueName, queued.length, nowMs);
      for (const [index, message] of queued.entries())
        places.set(message.messageId, seq - queued.length + 1 + index);
      if (hasFreePlace(state)) startable.add(queueName);
    }
    const w = nextWriterToken();
    const ttls = messages.map((message) =>
      message.queueName === undefined
        ? this.ttlAfter(message.notBefore)
        : ttlOf(nowMs + MAX_WAIT_MS + this.#options.retentionMs),
    );
    await events.announce(
      nowMs,
      w,
      messages.map((message) => ({
        messageId: message.messageId,
        item: partitionKeys.record(message.messageId).sk,
      })),
      this.ttlAfter(nowMs),
    );
    const items: Item[] = [];
    messages.forEach((message, i) => {
      const seq = places.get(message.messageId);
      items.push(pending.item(message, ttls[i]!));
      items.push(
        ...recordItems(message, {
          group: {
            at: nowMs,
            w,
            i,
            events: [
              { time: nowMs, messageId: message.messageId, state: 'CREATED', url: message.url },
            ],
          },
          ttl: ttls[i]!,
          ...(seq !== undefined && { fifo: { queue: message.queueName!, seq } }),
          ...(publish !== undefined && { publish }),
        }),
      );
    });
    await calls.batchWrite(items);
    await this.#options.flowControl().register(messages, nowMs);
    // A place names its message only once the record is there.
    const positions = messages.flatMap((message, i) => {
      const seq = places.get(message.messageId);
      return seq === undefined
        ? []
        : [queues.positionItem(message.queueName!, seq, message, ttls[i]!)];
    });
    await calls.batchWrite(positions);
    for (const queue of startable) await this.wakeQueue(queue);
  }

  /** The attempt entry of a recorded message: the whole message, or a reference when too large. */
  recordedEntry(
    message: Message,
    retried: number,
    extra: Partial<Pick<AttemptEntry, 'sentBy' | 'fifo' | 'source'>> = {},
  ): AttemptEntry {
    const entry: AttemptEntry = {
      kind: 'attempt',
      messageId: message.messageId,
      message,
      retried,
      recorded: true,
      ...extra,
    };
    if (encodeAttempt(entry) !== undefined) return entry;
    const { message: _message, ...reference } = entry;
    return reference;
  }

  /** Sends attempt entries due within 15 minutes. */
  async send(planned: readonly PlannedEntry[]): Promise<void> {
    const outgoing: OutgoingEntry[] = planned.map(({ entry, dueAt }) => ({
      body: encodeEntry(entry),
      dueAt,
      about: `message ${entry.messageId}`,
    }));
    await this.#options.sender.send(outgoing);
  }

  /** Wakes a message (a recorded one, or a retry whose settlement `sentBy` names) at `dueAt`. */
  async wakeAt(messageId: string, dueAt: number, sentBy?: string): Promise<void> {
    const { scheduler, sender } = this.#options;
    if (sender.fitsDelay(dueAt)) {
      await sender.send([
        {
          body: encodeEntry({ kind: 'wake', messageId, ...(sentBy !== undefined && { sentBy }) }),
          dueAt,
          about: `message ${messageId}`,
        },
      ]);
      return;
    }
    if (!scheduler) {
      throw new Error(
        `message ${messageId} is due in more than 15 minutes, and this function has no scheduler`,
      );
    }
    await scheduler.scheduleWake(messageId, dueAt, sentBy);
  }

  /** Sends a `{"pump"}` entry for `queueName`, now or after `delayMs`. */
  async wakeQueue(queueName: string, delayMs = 0): Promise<void> {
    await this.#options.sender.send([
      {
        body: encodeEntry({ kind: 'pump', queue: queueName }),
        dueAt: this.#options.clock.now() + delayMs,
        about: `queue ${queueName}`,
      },
    ]);
  }

  /**
   * Sends a `{"flow"}` entry for a flow-control key at `dueAt`: in SQS within 15 minutes, else
   * through Scheduler; a function without one sends it in 15 minutes, and it is sent on from there.
   */
  async wakeFlowKey(key: string, dueAt: number): Promise<void> {
    const { scheduler, sender, clock } = this.#options;
    if (!sender.fitsDelay(dueAt) && scheduler?.scheduleFlowTimer) {
      await scheduler.scheduleFlowTimer(key, dueAt);
      return;
    }
    await sender.send([
      {
        body: encodeEntry({ kind: 'flow', key }),
        dueAt: Math.min(dueAt, clock.now() + MAX_SQS_DELAY_MS),
        about: `flow-control key ${key}`,
      },
    ]);
  }

  /**
   * A wake entry: sends the attempt entry of the message's next attempt, unless the message
   * ended, was canceled, or another wake sent it already. `by` is the wake's SQS message id, so
   * the same wake received again after a crash sends again.
   */
  async wake(messageId: string, sentBy: string | undefined, by: string): Promise<void> {
    const history = await readHistory(this.#options.calls, messageId);
    const next = nextAttempt(history);
    if (next.kind !== 'pending' || next.sentBy !== sentBy) return;
    if (!this.#options.sender.fitsDelay(next.dueAt)) {
      await this.wakeAt(messageId, next.dueAt, sentBy);
      return;
    }
    const ttl = this.ttlAfter(next.dueAt);
    if (!(await markReleased(this.#options.calls, messageId, next.retried, by, ttl))) return;
    const fifo = history?.record?.fifo?.queue;
    await this.send([
      {
        entry: this.recordedEntry(next.message, next.retried, {
          ...(sentBy !== undefined && { sentBy }),
          ...(fifo !== undefined && { fifo }),
        }),
        dueAt: next.dueAt,
      },
    ]);
  }

  /**
   * Frees `release.holder`'s place (handing it to its callbacks), then starts the queue's next
   * messages while it has free places, all in one write of the queue's state; then their
   * attempt entries are sent. `by` names the trigger (an SQS message id): a start it made
   * before, whose entry a crash may have kept from being sent, is sent again. Resolves whether
   * the holder held a place.
   */
  async pump(
    queueName: string,
    by: string,
    release?: { readonly holder: string; readonly heirs: readonly string[] },
  ): Promise<{ released: boolean }> {
    const { queues, clock } = this.#options;
    for (let attempt = 0; attempt < PUMP_ATTEMPTS; attempt += 1) {
      const current = await queues.state(queueName);
      if (!current) return { released: false };
      const again = Object.entries(current.units)
        .filter(([, unit]) => unit.b === by)
        .map(([messageId]) => messageId);
      let next = release ? releaseIn(current, release.holder, release.heirs, by) : current;
      const released = next !== current;
      const started: { messageId: string; dueAt: number }[] = [];
      let hole: number | undefined;
      while (hasFreePlace(next)) {
        const seq = next.started + 1;
        const place = await queues.waitingAt(queueName, seq);
        if (place === undefined) {
          hole = seq;
          break;
        }
        if (place.skipped) {
          // Canceled while it waited: its place is passed over.
          next = { ...next, started: seq, skipped: Math.max(0, next.skipped - 1) };
          continue;
        }
        const unit = { s: seq, b: by };
        next = { ...next, started: seq, units: { ...next.units, [place.messageId]: unit } };
        started.push({ messageId: place.messageId, dueAt: place.dueAt });
      }
      if (next !== current && !(await queues.write(current, next))) continue;
      await this.#sendStarted(queueName, started, again);
      if (hole !== undefined) await this.#passHole(queueName, hole, next, clock.now());
      return { released };
    }
    throw new Error(`queue ${queueName}: its state kept changing while it was pumped`);
  }

  /**
   * Sends the attempt entries of started messages: each refers to the message's record, which
   * its attempt reads anyway. A message delayed more than 15 minutes is woken instead. `again`
   * are messages a previous run of the same trigger started (their due time is read).
   */
  async #sendStarted(
    queueName: string,
    started: readonly { messageId: string; dueAt: number }[],
    again: readonly string[],
  ): Promise<void> {
    const resent = await Promise.all(
      again
        .filter((messageId) => !started.some((start) => start.messageId === messageId))
        .map(async (messageId) => {
          const next = nextAttempt(await readHistory(this.#options.calls, messageId));
          return next.kind === 'pending' && next.retried === 0
            ? [{ messageId, dueAt: next.dueAt }]
            : [];
        }),
    );
    const all = [...started, ...resent.flat()];
    const planned: PlannedEntry[] = [];
    for (const { messageId, dueAt } of all) {
      if (!this.fitsDelay(dueAt)) {
        await this.wakeAt(messageId, dueAt);
        continue;
      }
      const entry: AttemptEntry = {
        kind: 'attempt',
        messageId,
        retried: 0,
        recorded: true,
        fifo: queueName,
      };
      planned.push({ entry, dueAt });
    }
    await this.send(planned);
  }

  /**
   * A place with no message: its publish has not written it yet, or died. After HOLE_GRACE_MS
   * it is passed over; until then a delayed pump looks again.
   */
  async #passHole(queueName: string, seq: number, state: QueueState, now: number): Promise<void> {
    const { queues } = this.#options;
    if (state.hole?.seq === seq && now - state.hole.since >= HOLE_GRACE_MS) {
      this.#options.logger?.warn('passed over a FIFO place whose publish never completed', {
        queue: queueName,
        seq,
      });
      await queues.mutate(queueName, now, (current) =>
        current.started === seq - 1 ? { ...current, started: seq, hole: undefined } : current,
      );
      await this.wakeQueue(queueName);
      return;
    }
    if (state.hole?.seq !== seq) {
      await queues.mutate(queueName, now, (current) =>
        current.started === seq - 1 ? { ...current, hole: { seq, since: now } } : current,
      );
    }
    await this.wakeQueue(queueName, HOLE_GRACE_MS);
  }
}
