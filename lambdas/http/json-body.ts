import { BadRequestError } from '../core/errors';
import type { ApiRequest } from './api-types';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a request's JSON body for the management routes. An empty body is `undefined`, so
 * routes whose body is optional (PY's DELETE with `{"messageIds": [...]}`) can tell it apart.
 * @param expected described in the error, e.g. `{"endpoints": [{"url": "..."}]}`.
 */
export function readJsonBody(request: ApiRequest, expected: string): unknown {
  if (request.body.byteLength === 0) return undefined;
  try {
    return JSON.parse(decoder.decode(request.body));
  } catch {
    throw new BadRequestError(`request body is not valid JSON; expected ${expected}`);
  }
}
