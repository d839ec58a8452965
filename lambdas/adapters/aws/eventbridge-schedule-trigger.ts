/**
 * Fires sqstash's cron schedules on AWS: one EventBridge Scheduler schedule per sqstash schedule,
 * in the stack's schedule group, whose templated SQS target puts the tick
 * `{"scheduleId": "...", "tick": "<aws.scheduler.scheduled-time>"}` on the delivery queue
 * (sqs-entries.ts). The delivery function reads it and calls the core's
 * `fireSchedule(deps, scheduleId, tickTime)`, which publishes the tick's message once, however
 * often the tick arrives.
 *
 * - Expression: `toEventBridgeCron(parseCron(schedule.cron))` (eventbridge-cron.ts), in the
 *   schedule's `CRON_TZ` zone as `ScheduleExpressionTimezone`. Schedules it cannot express (both
 *   day fields restricted) are refused with a 400 by `validate`, which the core calls before it
 *   stores anything.
 * - Precision: `FlexibleTimeWindow` OFF; Scheduler still invokes the target within the minute
 *   (60-second precision, schedule-types page), so a tick reaches the queue up to a minute late.
 * - State: `DISABLED` while the sqstash schedule is paused; resuming enables it again. A tick
 *   already in flight when the schedule was paused is skipped by `fireSchedule`.
 * - Names: `cron.<scheduleId>` when the id fits (`[0-9a-zA-Z-_.]`, the name at most 63
 *   characters), else `cron.` and 59 hex characters of the id's SHA-256: exactly 64 characters,
 *   so a hashed name can never equal a kept one. One-time delivery schedules
 *   (eventbridge-scheduler.ts) are named after message ids (`msg_...`, `id-...`), never `cron.`.
 * - Create or update: CreateSchedule first (the usual case: a new schedule); ConflictException
 *   means it exists, so UpdateSchedule, which replaces the whole definition; a
 *   ResourceNotFoundException there (deleted in between) starts over. No GetSchedule is needed.
 * - Delete: DeleteSchedule; ResourceNotFoundException means it is already gone, which is success.
 * - Convergence: the store is the truth. When a write to EventBridge fails after the store's
 *   (the API answers 500), the reconcile pass (lambdas/aws/reconcile.ts) finds the difference
 *   through `listTriggers` and puts back, updates or deletes what differs.
 */
import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  type ListSchedulesCommandOutput,
  ResourceNotFoundException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { parseCron } from '../../core/cron';
import type { Schedule, ScheduleTrigger } from '../../ports/schedule-store';
import { toEventBridgeCron } from './eventbridge-cron';
import { type EventBridgeSchedulerOptions, SchedulerError } from './eventbridge-scheduler';
import { encodeScheduleTickBody, SCHEDULED_TIME_ATTRIBUTE } from './sqs-entries';

/** Schedule names: 1-64 characters of `[0-9a-zA-Z-_.]` (CreateSchedule API, `Name`). */
const MAX_SCHEDULE_NAME_LENGTH = 64;
const SCHEDULE_NAME_CHARS = /^[0-9a-zA-Z_.-]+$/;
const NAME_PREFIX = 'cron.';
/** Kept ids make names of at most 63 characters; hashed ones exactly 64. */
const MAX_KEPT_ID_LENGTH = MAX_SCHEDULE_NAME_LENGTH - NAME_PREFIX.length - 1;
const HASHED_ID_HEX_CHARS = MAX_SCHEDULE_NAME_LENGTH - NAME_PREFIX.length;
/** `Description`: at most 512 characters (CreateSchedule API). */
const MAX_DESCRIPTION_LENGTH = 512;
/**
 * Scheduler's most persistent retry policy (MaximumEventAgeInSeconds 60-86,400,
 * MaximumRetryAttempts 0-185): a tick Scheduler drops is a message the schedule never sends.
 */
const TICK_RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 };
/** Create/update rounds when the schedule keeps being created or deleted by someone else. */
const MAX_ROUNDS = 3;

/** An EventBridge schedule of a cron schedule, as ListSchedules shows it. */
export type CronTrigger = {
  readonly name: string;
  readonly enabled: boolean;
  /** When it was last created or updated (ms). */
  readonly modifiedAt: number;
};

/** The EventBridge Scheduler side of sqstash's cron schedules (file header). */
export class EventBridgeScheduleTrigger implements ScheduleTrigger {
  readonly #options: EventBridgeSchedulerOptions;

  constructor(options: EventBridgeSchedulerOptions) {
    this.#options = options;
  }

  /**
   * Throws the BadRequestError a schedule EventBridge cannot express gets (both day fields
   * restricted), before anything is stored.
   */
  validate(schedule: Schedule): void {
    this.#definition(schedule);
  }

  /** Creates the schedule's EventBridge schedule, or replaces its definition (paused: DISABLED). */
  async scheduleChanged(schedule: Schedule): Promise<void> {
    const input = this.#definition(schedule);
    const { client } = this.#options;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      try {
        await client.send(new CreateScheduleCommand(input));
        return;
      } catch (error) {
        if (!(error instanceof ConflictException)) throw this.#failure('create', input, error);
      }
      try {
        await client.send(new UpdateScheduleCommand(input));
        return;
      } catch (error) {
        // Deleted since the create found it: create it again.
        if (!(error instanceof ResourceNotFoundException)) {
          throw this.#failure('update', input, error);
        }
      }
    }
    throw new SchedulerError(
      `schedule ${input.Name} in group ${input.GroupName} kept appearing and disappearing ` +
        `during ${MAX_ROUNDS} attempts to create or update it`,
    );
  }

  /** Deletes the schedule's EventBridge schedule; one that does not exist is already deleted. */
  async scheduleDeleted(scheduleId: string): Promise<void> {
    await this.deleteTrigger(cronScheduleName(scheduleId));
  }

  /** Deletes an EventBridge schedule by its name (the reconcile pass's orphans). */
  async deleteTrigger(name: string): Promise<void> {
    const input = { Name: name, GroupName: this.#options.groupName };
    try {
      await this.#options.client.send(new DeleteScheduleCommand(input));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return;
      throw this.#failure('delete', input, error);
    }
  }

  /** Every cron schedule's EventBridge schedule in the group, for the reconcile pass. */
  async listTriggers(): Promise<CronTrigger[]> {
    const triggers: CronTrigger[] = [];
    let NextToken: string | undefined;
    do {
      let page: ListSchedulesCommandOutput;
      try {
        page = await this.#options.client.send(
          new ListSchedulesCommand({
            GroupName: this.#options.groupName,
            NamePrefix: NAME_PREFIX,
            NextToken,
          }),
        );
      } catch (error) {
        throw this.#failure(
          'list',
          { GroupName: this.#options.groupName, Name: `${NAME_PREFIX}*` },
          error,
        );
      }
      for (const schedule of page.Schedules ?? []) {
        if (schedule.Name === undefined) continue;
        triggers.push({
          name: schedule.Name,
          enabled: schedule.State === 'ENABLED',
          modifiedAt: schedule.LastModificationDate?.getTime() ?? 0,
        });
      }
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    return triggers;
  }

  /** The whole definition, as both CreateSchedule and UpdateSchedule take it. */
  #definition(schedule: Schedule): CreateScheduleCommandInput {
    const { scheduleExpression, timezone } = toEventBridgeCron(parseCron(schedule.cron));
    return {
      Name: cronScheduleName(schedule.scheduleId),
      GroupName: this.#options.groupName,
      Description: `sqstash schedule ${schedule.scheduleId}: ${schedule.cron}`.slice(
        0,
        MAX_DESCRIPTION_LENGTH,
      ),
      ScheduleExpression: scheduleExpression,
      ScheduleExpressionTimezone: timezone,
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: schedule.isPaused ? 'DISABLED' : 'ENABLED',
      Target: {
        Arn: this.#options.deliveryQueueArn,
        RoleArn: this.#options.roleArn,
        Input: encodeScheduleTickBody(schedule.scheduleId, SCHEDULED_TIME_ATTRIBUTE),
        RetryPolicy: TICK_RETRY_POLICY,
      },
    };
  }

  #failure(
    action: string,
    input: { readonly Name?: string; readonly GroupName?: string },
    error: unknown,
  ): SchedulerError {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new SchedulerError(
      `could not ${action} schedule ${input.Name} in schedule group ${input.GroupName}: ${reason}`,
      { cause: error },
    );
  }
}

/**
 * The EventBridge schedule name of a sqstash schedule: `cron.<scheduleId>`, or `cron.` and a
 * hash of the id when the id does not fit (see the file header).
 */
export function cronScheduleName(scheduleId: string): string {
  if (scheduleId.length <= MAX_KEPT_ID_LENGTH && SCHEDULE_NAME_CHARS.test(scheduleId)) {
    return `${NAME_PREFIX}${scheduleId}`;
  }
  const hash = createHash('sha256').update(scheduleId).digest('hex');
  return `${NAME_PREFIX}${hash.slice(0, HASHED_ID_HEX_CHARS)}`;
}
