import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { errorResponse } from '../../http/error-response';
import { toApiGatewayResult, toApiRequest } from '../api-gateway';
import type { AwsRuntime } from '../composition';
import { logger, loggerPort, publishMetrics } from '../powertools';
import { awsRuntime } from '../runtime';

/** API Gateway HTTP API -> the same /v2 router the embedded server runs. */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  try {
    let runtime: AwsRuntime;
    try {
      runtime = await awsRuntime();
    } catch (error) {
      // A start that failed (a secret unreadable, say) still answers the API's JSON error.
      return toApiGatewayResult(errorResponse(error, loggerPort, { phase: 'cold start' }));
    }
    return toApiGatewayResult(await runtime.api(toApiRequest(event)));
  } finally {
    publishMetrics();
  }
};
