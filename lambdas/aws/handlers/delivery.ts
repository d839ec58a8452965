import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleDeliveryBatch } from '../delivery-batch';
import { logger, publishMetrics } from '../powertools';
import { awsRuntime } from '../runtime';

/** SQS delivery queue -> one attempt per due message; retries stay in SQS as batch item failures. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    const runtime = await awsRuntime();
    return await handleDeliveryBatch(runtime.deliveryBatch, event);
  } finally {
    publishMetrics();
  }
};
