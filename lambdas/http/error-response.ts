import { QStashApiError } from '../core/errors';
import type { Logger } from '../ports/logger';
import type { ApiResponse } from './api-types';
import { jsonResponse } from './api-types';

/**
 * The one place errors become HTTP answers. API errors keep their status and message; anything
 * else is logged with its stack and answered as an opaque 500, so internals never leak.
 */
export function errorResponse(
  error: unknown,
  logger: Logger,
  context: Record<string, unknown>,
): ApiResponse {
  if (error instanceof QStashApiError) return jsonResponse(error.status, { error: error.message });
  logger.error('request failed', {
    ...context,
    error:
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack }
        : String(error),
  });
  return jsonResponse(500, { error: 'internal error' });
}
