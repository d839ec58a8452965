/**
 * What the SQS delivery queue carries: one JSON body per entry, written by the functions and by
 * EventBridge Scheduler, read by the delivery and dead-letter functions. Writers and readers
 * share this module, so they cannot disagree.
 *
 * - `{"attempt": {...}}`: one attempt of a message. The entry carries the whole message (SQS
 *   takes 1 MiB), so the usual message needs no DynamoDB read or write before its attempt. Only
 *   a message too large for an entry is read from its record (`r`, without `f`/`b`).
 * - `{"messageId": "...", "sentBy"?: "..."}`: wakes a recorded message when it is due (the
 *   one-time schedules of eventbridge-scheduler.ts send it): the delivery function reads the
 *   message and sends its attempt entry.
 * - `{"pump": "<queue>"}`: a FIFO queue may have a free place; the delivery function starts its
 *   next messages (dynamo-queue-store.ts).
 * - `{"flow": "<key>"}`: a flow-control key may start waiting attempts (its rate timer, or a
 *   resume, pin or reset); the delivery function starts them (dynamo-flow-control.ts).
 * - `{"scheduleId": "...", "tick": "<ISO time>"}`: a cron schedule's tick, sent by its
 *   EventBridge schedule, whose `Input` holds `<aws.scheduler.scheduled-time>`, which Scheduler
 *   replaces with the time the invocation was scheduled for (EventBridge Scheduler User Guide,
 *   managing-schedule-context-attributes.html) on every copy of one invocation, retries
 *   included: what makes firing a tick idempotent.
 * - `{"reconcile": "<ISO time>"}`: the stack's schedule for the reconcile pass (reconcile.ts).
 */
import { isUtf8 } from 'node:buffer';
import type { Message } from '../../core/message';

/** SQS's largest message body (the queue's MaximumMessageSize, raised to the maximum). */
export const MAX_ENTRY_BYTES = 1_048_576;
const MAX_QUOTED_BODY = 200;

/** One attempt of a message. */
export type AttemptEntry = {
  readonly kind: 'attempt';
  readonly messageId: string;
  /** The message; absent when it is too large for an entry and is read from its record. */
  readonly message?: Message;
  /** `Upstash-Retried` of this attempt. */
  readonly retried: number;
  /**
   * The settlement that sent this entry (its lease token): a retry's previous attempt, or a
   * callback's source attempt. The entry is attempted only if that settlement was applied.
   */
  readonly sentBy?: string;
  /** A callback's source attempt, which `sentBy` settled. */
  readonly source?: { readonly messageId: string; readonly retried: number };
  /** The FIFO queue in which this message (or, for a callback, its source) holds a place. */
  readonly fifo?: string;
  /** The message has a record (message-partition.ts): it may have been canceled meanwhile. */
  readonly recorded?: boolean;
  /**
   * The publish of several messages this one belongs to: it is attempted once that publish
   * committed (dynamo-message-store.ts, insertMessages), so all of them are, or none.
   */
  readonly publish?: string;
  /** How often the dead-letter function put this entry back in line. */
  readonly redrives?: number;
};

/** A recorded message is due (or due within 15 minutes): send its attempt entry. */
export type WakeEntry = {
  readonly kind: 'wake';
  readonly messageId: string;
  /** For a retry woken after more than 15 minutes: the settlement that scheduled it. */
  readonly sentBy?: string;
  readonly redrives?: number;
};

export type PumpEntry = {
  readonly kind: 'pump';
  readonly queue: string;
  readonly redrives?: number;
};

export type FlowEntry = {
  readonly kind: 'flow';
  readonly key: string;
  readonly redrives?: number;
};

export type TickEntry = {
  readonly kind: 'tick';
  readonly scheduleId: string;
  /** The tick's scheduled time, ms since epoch. */
  readonly tickTime: number;
};

export type ReconcileEntry = { readonly kind: 'reconcile' };

export type QueueEntry =
  | AttemptEntry
  | WakeEntry
  | PumpEntry
  | FlowEntry
  | TickEntry
  | ReconcileEntry;

/**
 * The keyword EventBridge Scheduler replaces, in a target's `Input`, with the time the
 * invocation was scheduled for.
 */
export const SCHEDULED_TIME_ATTRIBUTE = '<aws.scheduler.scheduled-time>';

/** A queue message that is not a sqstash entry; retrying it cannot help. */
export class MalformedEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEntryError';
  }
}

type WireAttempt = {
  id: string;
  n: number;
  /** The message's fields without its body (core/message-codec.ts). */
  f?: Omit<Message, 'body'>;
  /** The body: UTF-8 text as is, anything else base64 (`b64`). */
  b?: string;
  b64?: true;
  s?: string;
  src?: { id: string; n: number };
  q?: string;
  r?: true;
  d?: number;
  p?: string;
};

/** The entry as the JSON body SQS takes: text SQS accepts, whatever the message holds. */
export function encodeEntry(entry: QueueEntry): string {
  return sqsSafe(JSON.stringify(wireOf(entry)));
}

/** An attempt entry for `message`, as the sender encodes it; undefined when it is too large. */
export function encodeAttempt(entry: AttemptEntry): string | undefined {
  const encoded = encodeEntry(entry);
  return Buffer.byteLength(encoded) <= MAX_ENTRY_BYTES ? encoded : undefined;
}

/** Reads any entry. */
export function decodeEntry(body: string): QueueEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const entry =
    typeof parsed === 'object' && parsed !== null
      ? entryOf(parsed as Record<string, unknown>)
      : undefined;
  if (entry) return entry;
  throw new MalformedEntryError(
    'not a sqstash queue entry: expected JSON {"attempt": {...}}, {"messageId": "msg_..."}, ' +
      `{"pump": "..."}, {"flow": "..."}, {"scheduleId": "...", "tick": "<ISO time>"} or {"reconcile": "..."}, got ${body.slice(0, MAX_QUOTED_BODY)}`,
  );
}

/**
 * The body of a schedule's tick: `tick` is an ISO time, or SCHEDULED_TIME_ATTRIBUTE in the
 * template Scheduler fills in.
 */
export function encodeScheduleTickBody(scheduleId: string, tick: string): string {
  return JSON.stringify({ scheduleId, tick });
}

/** The body of the reconcile schedule's target, filled in by Scheduler like a tick's. */
export function encodeReconcileBody(): string {
  return JSON.stringify({ reconcile: SCHEDULED_TIME_ATTRIBUTE });
}

function wireOf(entry: QueueEntry): Record<string, unknown> {
  switch (entry.kind) {
    case 'attempt': {
      const wire: WireAttempt = { id: entry.messageId, n: entry.retried };
      if (entry.message) {
        const { body, ...fields } = entry.message;
        wire.f = fields;
        if (isUtf8(body)) {
          if (body.byteLength > 0) wire.b = Buffer.from(body).toString('utf8');
        } else {
          wire.b = Buffer.from(body).toString('base64');
          wire.b64 = true;
        }
      }
      if (entry.sentBy !== undefined) wire.s = entry.sentBy;
      if (entry.source) wire.src = { id: entry.source.messageId, n: entry.source.retried };
      if (entry.fifo !== undefined) wire.q = entry.fifo;
      if (entry.recorded) wire.r = true;
      if (entry.redrives) wire.d = entry.redrives;
      if (entry.publish !== undefined) wire.p = entry.publish;
      return { attempt: wire };
    }
    case 'wake':
      return {
        messageId: entry.messageId,
        ...(entry.sentBy !== undefined && { sentBy: entry.sentBy }),
        ...(entry.redrives && { redrives: entry.redrives }),
      };
    case 'pump':
      return { pump: entry.queue, ...(entry.redrives && { redrives: entry.redrives }) };
    case 'flow':
      return { flow: entry.key, ...(entry.redrives && { redrives: entry.redrives }) };
    case 'tick':
      return { scheduleId: entry.scheduleId, tick: new Date(entry.tickTime).toISOString() };
    case 'reconcile':
      return { reconcile: new Date().toISOString() };
  }
}

function entryOf(fields: Record<string, unknown>): QueueEntry | undefined {
  const attempt = fields.attempt as WireAttempt | undefined;
  if (typeof attempt === 'object' && attempt !== null) {
    if (typeof attempt.id !== 'string' || !Number.isInteger(attempt.n)) return undefined;
    return {
      kind: 'attempt',
      messageId: attempt.id,
      retried: attempt.n,
      ...(attempt.f && {
        message: {
          ...attempt.f,
          body: Buffer.from(attempt.b ?? '', attempt.b64 ? 'base64' : 'utf8'),
        } as Message,
      }),
      ...(attempt.s !== undefined && { sentBy: attempt.s }),
      ...(attempt.src && { source: { messageId: attempt.src.id, retried: attempt.src.n } }),
      ...(attempt.q !== undefined && { fifo: attempt.q }),
      ...(attempt.r && { recorded: true }),
      ...(attempt.d && { redrives: attempt.d }),
      ...(attempt.p !== undefined && { publish: attempt.p }),
    };
  }
  const redrives = typeof fields.redrives === 'number' ? { redrives: fields.redrives } : {};
  if (typeof fields.messageId === 'string' && fields.messageId !== '') {
    return {
      kind: 'wake',
      messageId: fields.messageId,
      ...(typeof fields.sentBy === 'string' && { sentBy: fields.sentBy }),
      ...redrives,
    };
  }
  if (typeof fields.pump === 'string' && fields.pump !== '') {
    return { kind: 'pump', queue: fields.pump, ...redrives };
  }
  if (typeof fields.flow === 'string' && fields.flow !== '') {
    return { kind: 'flow', key: fields.flow, ...redrives };
  }
  if (typeof fields.scheduleId === 'string' && fields.scheduleId !== '') {
    const tickTime = typeof fields.tick === 'string' ? Date.parse(fields.tick) : Number.NaN;
    if (Number.isFinite(tickTime)) return { kind: 'tick', scheduleId: fields.scheduleId, tickTime };
  }
  if (typeof fields.reconcile === 'string') return { kind: 'reconcile' };
  return undefined;
}

/**
 * SQS takes #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF (aws-facts §1).
 * JSON.stringify escapes control characters and lone surrogates already; U+FFFE and U+FFFF,
 * which it leaves as they are, can only stand inside a string, where an escape means the same.
 */
function sqsSafe(json: string): string {
  return json.replace(/[\uFFFE\uFFFF]/g, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}
