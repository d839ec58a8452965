import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { errorResponse } from '../../http/error-response';
import { toApiGatewayResult, toApiRequest } from '../api-gateway';
import type { ApiRuntime } from '../api-runtime';
import { apiRuntime } from '../api-runtime';
import { logger, loggerPort, publishMetrics } from '../powertools';

/**
 * API Gateway HTTP API, or a Lambda Function URL (the same payload format 2.0) -> the same /v2
 * router the embedded server runs.
 */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  try {
    let runtime: ApiRuntime;
    try {
      runtime = await apiRuntime();
    } catch (error) {
      // A start that failed (a secret unreadable, say) still answers the API's JSON error.
      return toApiGatewayResult(errorResponse(error, loggerPort, { phase: 'cold start' }));
    }
    return toApiGatewayResult(await runtime(toApiRequest(event)));
  } finally {
    publishMetrics();
  }
};
