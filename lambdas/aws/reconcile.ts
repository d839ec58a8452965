import type { DynamoFlowControl } from '../adapters/aws/dynamo-flow-control';
import type { DynamoQueueStore } from '../adapters/aws/dynamo-queue-store';
import type { EventBridgeScheduleTrigger } from '../adapters/aws/eventbridge-schedule-trigger';
import { cronScheduleName } from '../adapters/aws/eventbridge-schedule-trigger';
import type { MessageRouter } from '../adapters/aws/message-router';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { ScheduleStore } from '../ports/schedule-store';

export type ReconcileDeps = {
  readonly schedules: ScheduleStore;
  readonly trigger: EventBridgeScheduleTrigger;
  readonly queues: DynamoQueueStore;
  readonly router: MessageRouter;
  readonly flowControl: DynamoFlowControl;
  readonly clock: Clock;
  readonly logger: Logger;
};

/**
 * An EventBridge schedule younger than this without a stored schedule may belong to a schedule
 * being created right now (the store is written first, but a listing may cross the write).
 */
const ORPHAN_GRACE_MS = 5 * 60_000;
/** Clock difference allowed between a schedule's creation and EventBridge's modification time. */
const MODIFIED_SLACK_MS = 60_000;

/**
 * The reconcile pass, run by the delivery function whenever the stack's reconcile schedule puts
 * its entry on the queue (every 10 minutes); `by` is that entry's SQS message id. It makes what
 * is derived converge on what is stored, where a write can fail half-way:
 *
 * - Cron schedules: every stored schedule has its EventBridge schedule, enabled unless paused
 *   and modified after the schedule was (re)defined; a CreateSchedule or UpdateSchedule that
 *   failed after the store's write is made again. An EventBridge schedule left by a deleted one
 *   is deleted.
 * - FIFO queues: a queue with messages waiting is pumped, so a publish that died between
 *   storing its message and waking its queue delays that message by minutes, not forever.
 * - Flow-control keys: a key with attempts waiting is pumped, so a rate timer or a `{"flow"}`
 *   entry that was never sent (its send failed after the state's write) costs minutes.
 */
export async function reconcile(deps: ReconcileDeps, by: string): Promise<void> {
  const now = deps.clock.now();
  const [stored, triggers, queues] = await Promise.all([
    deps.schedules.listSchedules(),
    deps.trigger.listTriggers(),
    deps.queues.listQueues(),
  ]);
  const byName = new Map(triggers.map((trigger) => [trigger.name, trigger]));
  let repaired = 0;
  for (const schedule of stored) {
    const name = cronScheduleName(schedule.scheduleId);
    const trigger = byName.get(name);
    byName.delete(name);
    const stale =
      !trigger ||
      trigger.enabled === schedule.isPaused ||
      trigger.modifiedAt < schedule.createdAt - MODIFIED_SLACK_MS;
    if (!stale) continue;
    await deps.trigger.scheduleChanged(schedule);
    repaired += 1;
  }
  let removed = 0;
  for (const orphan of byName.values()) {
    if (now - orphan.modifiedAt < ORPHAN_GRACE_MS) continue;
    await deps.trigger.deleteTrigger(orphan.name);
    removed += 1;
  }
  for (const queue of queues) {
    if (queue.lag > 0) await deps.router.pump(queue.name, by);
  }
  for (const key of await deps.flowControl.keysWithWaiting()) {
    await deps.flowControl.pump(key, by);
  }
  if (repaired > 0 || removed > 0) {
    deps.logger.warn('reconciled EventBridge schedules with the stored ones', {
      repaired,
      removed,
    });
  }
}
