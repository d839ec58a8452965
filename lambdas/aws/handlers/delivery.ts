import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleDeliveryBatch } from '../delivery-batch';
import { deliveryRuntime } from '../delivery-runtime';
import { logger, publishMetrics } from '../powertools';

/** SQS delivery queue -> attempts, wake-ups, FIFO starts, schedule ticks, the reconcile pass. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await handleDeliveryBatch(await deliveryRuntime(), event);
  } finally {
    publishMetrics();
  }
};
