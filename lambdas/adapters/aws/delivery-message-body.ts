/**
 * The bodies of delivery-queue messages, of two kinds:
 *
 * - `{"messageId": "..."}`: a message to attempt. Both ways into the queue write it
 *   (SqsDeliveryQueue directly, EventBridge Scheduler's one-time schedules as their target
 *   `Input`). The message itself stays in DynamoDB: the body names it, and the delivery function
 *   re-reads its state and due time.
 * - `{"scheduleId": "...", "tick": "2026-11-23T09:00:00Z"}`: a cron schedule's tick, sent by the
 *   schedule's EventBridge schedule. Its target `Input` is written with the context attribute
 *   `<aws.scheduler.scheduled-time>` as the tick, which Scheduler replaces with the time the
 *   invocation was scheduled for ("for example, 2022-03-22T18:59:43Z": EventBridge Scheduler
 *   User Guide, managing-schedule-context-attributes.html) whenever it fires, retries included.
 *   The tick is therefore the same for every copy of one invocation, which is what makes
 *   firing it idempotent.
 *
 * Writers and the reader share this module, so they cannot disagree.
 */

/** What a delivery-queue message for a message carries. */
export type DeliveryMessageBody = { readonly messageId: string };

/** A delivery-queue message, read. */
export type DeliveryQueueBody =
  | { readonly kind: 'message'; readonly messageId: string }
  | {
      readonly kind: 'tick';
      readonly scheduleId: string;
      /** The tick's scheduled time, ms since epoch. */
      readonly tickTime: number;
    };

/**
 * The keyword EventBridge Scheduler replaces, in a target's `Input`, with the time the
 * invocation was scheduled for.
 */
export const SCHEDULED_TIME_ATTRIBUTE = '<aws.scheduler.scheduled-time>';

/** A queue message that is not a sqstash delivery message; retrying it cannot help. */
export class MalformedDeliveryMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedDeliveryMessageError';
  }
}

const MAX_QUOTED_BODY = 200;

export function encodeDeliveryMessageBody(messageId: string): string {
  const body: DeliveryMessageBody = { messageId };
  return JSON.stringify(body);
}

/**
 * The body of a schedule's tick: `tick` is an ISO time, or SCHEDULED_TIME_ATTRIBUTE in the
 * template Scheduler fills in.
 */
export function encodeScheduleTickBody(scheduleId: string, tick: string): string {
  return JSON.stringify({ scheduleId, tick });
}

/** Reads either kind of delivery-queue message. */
export function parseDeliveryQueueBody(body: string): DeliveryQueueBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const fields = parsed as Record<string, unknown>;
    if (typeof fields.messageId === 'string' && fields.messageId !== '') {
      return { kind: 'message', messageId: fields.messageId };
    }
    if (typeof fields.scheduleId === 'string' && fields.scheduleId !== '') {
      const tickTime = typeof fields.tick === 'string' ? Date.parse(fields.tick) : Number.NaN;
      if (Number.isFinite(tickTime)) {
        return { kind: 'tick', scheduleId: fields.scheduleId, tickTime };
      }
    }
  }
  throw new MalformedDeliveryMessageError(
    'not a sqstash delivery message: expected JSON {"messageId": "msg_..."} or ' +
      `{"scheduleId": "...", "tick": "<ISO time>"}, got ${body.slice(0, MAX_QUOTED_BODY)}`,
  );
}

/** The message id a delivery-queue message names; a tick is refused as malformed. */
export function parseDeliveryMessageBody(body: string): string {
  const parsed = parseDeliveryQueueBody(body);
  if (parsed.kind !== 'message') {
    throw new MalformedDeliveryMessageError(
      `expected a message, got the tick of schedule ${parsed.scheduleId}`,
    );
  }
  return parsed.messageId;
}
