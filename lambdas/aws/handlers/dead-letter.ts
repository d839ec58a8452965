import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleDeadLetterBatch } from '../dead-letter-batch';
import { deadLetterRuntime } from '../dead-letter-runtime';
import { logger, publishMetrics } from '../powertools';

/** SQS dead-letter queue -> back in line, or the message dead-lettered with its failure callback. */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  try {
    return await handleDeadLetterBatch(await deadLetterRuntime(), event);
  } finally {
    publishMetrics();
  }
};
