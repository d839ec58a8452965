/**
 * EventBridge Scheduler, as sqstash uses it for time: one-time schedules that put a wake entry
 * (`{"messageId"}`, sqs-entries.ts) on the SQS delivery queue when a recorded message is due
 * further ahead than SQS's 15-minute `DelaySeconds` allows (aws-facts.md §1, §3, §9.1): a long
 * `Upstash-Delay`, or a retry backing off longer. Cron schedules are eventbridge-schedule-trigger.ts.
 *
 * Precision. A one-time `at()` schedule fires "with 60-second precision": a schedule for 12:00
 * invokes its target at some moment from 12:00:00 to 12:00:59. A schedule at the due minute
 * could therefore fire up to 59 s LATE (due 12:00:05, fired 12:00:50). So the schedule is set
 * for the latest minute whose whole firing window ends by the due time: the due time minus one
 * minute, rounded down to the minute. It always fires early, by 0-120 s; the delivery function
 * then sends the message's attempt entry with the seconds left as its `DelaySeconds`, so a
 * message is never
 * delivered before its due time, and rarely more than ~1 s after it (plus Scheduler's own
 * invocation latency and throttling, and SQS/Lambda polling), at the cost of one extra hop.
 * Rounding the due time itself down would let it fire up to 59 s late, precise to the minute.
 *
 * Schedules are created with `ActionAfterCompletion: DELETE`, so each removes itself after its
 * one invocation and the group does not fill up. Names are `<messageId>-<fire minute>`:
 * scheduling the same message for the same minute again (a retried publish, a duplicate
 * wake-up) meets `ConflictException`, which means it is already scheduled, and is success.
 * Another minute gets its own schedule; the earlier of the two wakes the message, the later
 * finds its attempt settled or under way and is dropped by the delivery function.
 *
 * A flow-control key's rate timer further ahead than 15 minutes (a rate per hour or day) is a
 * schedule too, `flow-<hash of the key>-<fire minute>`, putting `{"flow": "<key>"}` on the
 * queue; firing early, it finds the rate still full and sets the rest of the wait in SQS.
 */
import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { encodeEntry } from './sqs-entries';

const MINUTE_MS = 60_000;
/** How long after its minute a one-time schedule may fire (aws-facts.md §3, "Precision"). */
const FIRING_WINDOW_MS = MINUTE_MS;
/** Schedule names: 1-64 characters of `[0-9a-zA-Z-_.]` (CreateSchedule API, `Name`). */
const MAX_SCHEDULE_NAME_LENGTH = 64;
const SCHEDULE_NAME_CHARS = /^[0-9a-zA-Z_.-]+$/;
/** `-yyyymmddThhmm`: the fire minute that ends every delivery schedule's name. */
const NAME_SUFFIX_LENGTH = 14;
const MAX_ID_IN_NAME = MAX_SCHEDULE_NAME_LENGTH - NAME_SUFFIX_LENGTH;
const HASHED_ID_HEX_CHARS = 40;
/**
 * Scheduler's most persistent retry policy (MaximumEventAgeInSeconds 60-86,400,
 * MaximumRetryAttempts 0-185): a dropped invocation is a message nothing will ever deliver.
 */
const DELIVERY_RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 };

export type EventBridgeSchedulerOptions = {
  readonly client: SchedulerClient;
  /** The schedule group every sqstash schedule is created in (`SQSTASH_SCHEDULE_GROUP`). */
  readonly groupName: string;
  /** The SQS delivery queue schedules send to (`SQSTASH_DELIVERY_QUEUE_ARN`). */
  readonly deliveryQueueArn: string;
  /** The role Scheduler assumes to send to the queue (`SQSTASH_SCHEDULER_ROLE_ARN`). */
  readonly roleArn: string;
};

/** A schedule could not be created; the message was not handed to Scheduler. */
export class SchedulerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SchedulerError';
  }
}

/** sqstash's schedules in one EventBridge Scheduler group. */
export class EventBridgeScheduler {
  readonly #options: EventBridgeSchedulerOptions;

  constructor(options: EventBridgeSchedulerOptions) {
    this.#options = options;
  }

  /**
   * Puts `{"messageId"}` on the delivery queue shortly before `dueAt` (see the file header),
   * for due times more than 15 minutes ahead; `sentBy` names the settlement a retry's wake
   * belongs to. Idempotent for one message and fire minute.
   */
  async scheduleWake(messageId: string, dueAt: number, sentBy?: string): Promise<void> {
    await this.#schedule(
      deliveryScheduleName(messageId, deliveryFireTime(dueAt)),
      encodeEntry({ kind: 'wake', messageId, ...(sentBy !== undefined && { sentBy }) }),
      dueAt,
      `the delivery of ${messageId}`,
    );
  }

  /** Puts `{"flow": key}` on the delivery queue shortly before `dueAt` (the key's rate timer). */
  async scheduleFlowTimer(key: string, dueAt: number): Promise<void> {
    const hash = createHash('sha256').update(key).digest('hex').slice(0, HASHED_ID_HEX_CHARS);
    await this.#schedule(
      deliveryScheduleName(`flow-${hash}`, deliveryFireTime(dueAt)),
      encodeEntry({ kind: 'flow', key }),
      dueAt,
      `the rate timer of flow-control key ${key}`,
    );
  }

  async #schedule(name: string, body: string, dueAt: number, what: string): Promise<void> {
    const fireAt = deliveryFireTime(dueAt);
    const input: CreateScheduleCommandInput = {
      Name: name,
      GroupName: this.#options.groupName,
      ScheduleExpression: atExpression(fireAt),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: this.#options.deliveryQueueArn,
        RoleArn: this.#options.roleArn,
        Input: body,
        RetryPolicy: DELIVERY_RETRY_POLICY,
      },
    };
    try {
      await this.#options.client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (error instanceof ConflictException) return;
      throw new SchedulerError(
        `could not schedule ${what} (due ${new Date(dueAt).toISOString()}) ` +
          `as ${input.Name} in schedule group ${this.#options.groupName}: ${describe(error)}`,
        { cause: error },
      );
    }
  }
}

/**
 * When a delivery schedule for `dueAt` fires at the latest: the start of the last minute whose
 * whole firing window ends by `dueAt`.
 */
export function deliveryFireTime(dueAt: number): number {
  const latestStart = dueAt - FIRING_WINDOW_MS;
  return latestStart - mod(latestStart, MINUTE_MS);
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, as Scheduler wants it: no milliseconds, no `Z`. */
export function atExpression(at: number): string {
  return `at(${new Date(at).toISOString().slice(0, 19)})`;
}

/**
 * `<messageId>-<yyyymmddThhmm>`, unique per message and fire minute. Message ids are
 * `msg_` + base58, which the name charset allows; an id that is not (too long, or other
 * characters) is replaced by a hash of it, so every id yields a valid name.
 */
export function deliveryScheduleName(messageId: string, fireAt: number): string {
  const id =
    messageId.length <= MAX_ID_IN_NAME && SCHEDULE_NAME_CHARS.test(messageId)
      ? messageId
      : `id-${createHash('sha256').update(messageId).digest('hex').slice(0, HASHED_ID_HEX_CHARS)}`;
  const minute = new Date(fireAt).toISOString().slice(0, 16).replace(/[-:]/g, '');
  return `${id}-${minute}`;
}

function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
