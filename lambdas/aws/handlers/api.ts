import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { toApiGatewayResult, toApiRequest } from '../api-gateway';
import { logger, metrics } from '../powertools';
import { awsRuntime } from '../runtime';

/** API Gateway HTTP API -> the same /v2 router the embedded server runs. */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  try {
    const runtime = await awsRuntime();
    return toApiGatewayResult(await runtime.api(toApiRequest(event)));
  } finally {
    metrics.publishStoredMetrics();
  }
};
