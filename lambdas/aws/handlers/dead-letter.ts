import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleDeadLetterBatch } from '../dead-letter-batch';
import { logger, publishMetrics } from '../powertools';
import { awsRuntime } from '../runtime';

/** SQS dead-letter queue -> dead letter in the store and the failure callback. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    const runtime = await awsRuntime();
    return await handleDeadLetterBatch(runtime.deadLetterBatch, event);
  } finally {
    publishMetrics();
  }
};
