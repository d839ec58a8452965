import type { DeadLetterBatchDeps } from '../../../lambdas/aws/dead-letter-batch';
import { handleDeadLetterBatch } from '../../../lambdas/aws/dead-letter-batch';
import type { DeliveryBatchDeps } from '../../../lambdas/aws/delivery-batch';
import { handleDeliveryBatch } from '../../../lambdas/aws/delivery-batch';
import type { Logger } from '../../../lambdas/ports/logger';
import type {
  Schedule,
  ScheduleStore,
  ScheduleTrigger,
} from '../../../lambdas/ports/schedule-store';
import { makeSchedule } from '../../contract/schedule-store.contract';
import { sqsEvent, sqsRecord } from '../../helpers/aws-events';

const TICK = '2026-11-24T09:00:00Z';

/** The delivery function's deps, with only what a tick of a missing schedule touches. */
function depsWith(reads: Array<Schedule | undefined>) {
  const getSchedule = jest.fn(async () => reads.shift());
  const trigger: jest.Mocked<ScheduleTrigger> = {
    scheduleChanged: jest.fn(async (_schedule: Schedule) => undefined),
    scheduleDeleted: jest.fn(async (_scheduleId: string) => undefined),
  };
  const logger: jest.Mocked<Logger> = {
    debug: jest.fn(),
    info: jest.fn(),
    warn: jest.fn(),
    error: jest.fn(),
  };
  const postpone = jest.fn(async (_receipt: string, _delaySec: number) => undefined);
  const deps = {
    schedules: { schedules: { getSchedule } as unknown as ScheduleStore, trigger },
    sender: { postpone },
    logger,
  } as unknown as DeliveryBatchDeps;
  return { deps, getSchedule, trigger, logger, postpone };
}

function tickEvent(scheduleId: string) {
  return sqsEvent([
    sqsRecord({ body: JSON.stringify({ scheduleId, tick: TICK }), sqsMessageId: 'sqs-1' }),
  ]);
}

describe('Function: handleDeliveryBatch, for schedule ticks', () => {
  it('deletes the EventBridge schedule of a schedule that is gone, and acknowledges the tick', async () => {
    const { deps, trigger } = depsWith([undefined, undefined, undefined]);

    const response = await handleDeliveryBatch(deps, tickEvent('scd_gone'));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(trigger.scheduleDeleted).toHaveBeenCalledWith('scd_gone');
    expect(trigger.scheduleChanged).not.toHaveBeenCalled();
  });

  it('puts the EventBridge schedule back when the schedule was re-created during the delete', async () => {
    const recreated = makeSchedule({ scheduleId: 'scd_again' });
    const { deps, trigger } = depsWith([undefined, undefined, recreated]);

    await handleDeliveryBatch(deps, tickEvent('scd_again'));

    expect(trigger.scheduleDeleted).toHaveBeenCalledWith('scd_again');
    expect(trigger.scheduleChanged).toHaveBeenCalledWith(recreated);
  });

  it('leaves the trigger of a paused schedule alone', async () => {
    const paused = makeSchedule({ isPaused: true });
    const { deps, trigger } = depsWith([paused, paused]);

    const response = await handleDeliveryBatch(deps, tickEvent('scd_1'));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(trigger.scheduleDeleted).not.toHaveBeenCalled();
  });

  it('acknowledges the tick when the clean-up fails: the next tick tries again', async () => {
    const { deps, trigger, logger } = depsWith([undefined, undefined]);
    trigger.scheduleDeleted.mockRejectedValueOnce(new Error('throttled'));

    const response = await handleDeliveryBatch(deps, tickEvent('scd_gone'));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(logger.warn).toHaveBeenCalledWith(
      'could not delete the trigger of a schedule that no longer exists',
      expect.objectContaining({ scheduleId: 'scd_gone', error: 'throttled' }),
    );
  });

  it('has SQS hand the tick over again in a second when the store fails', async () => {
    const { deps, getSchedule, postpone } = depsWith([]);
    getSchedule.mockRejectedValueOnce(new Error('DynamoDB is throttling'));

    const response = await handleDeliveryBatch(deps, tickEvent('scd_1'));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'sqs-1' }] });
    expect(postpone).toHaveBeenCalledWith('receipt-sqs-1', 1);
  });
});

describe('Function: handleDeadLetterBatch, for schedule ticks', () => {
  it('logs and drops a tick SQS gave up on: the schedule goes on with its next tick', async () => {
    const { deps, logger } = depsWith([]);
    const onItemFailure = jest.fn();

    const response = await handleDeadLetterBatch(
      { ...deps, onItemFailure } as unknown as DeadLetterBatchDeps,
      tickEvent('scd_1'),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(logger.error).toHaveBeenCalledWith('dropped a delivery-queue entry that kept failing', {
      kind: 'tick',
      scheduleId: 'scd_1',
      tick: '2026-11-24T09:00:00.000Z',
      receives: '1',
    });
    expect(onItemFailure).toHaveBeenCalledTimes(1);
  });
});
