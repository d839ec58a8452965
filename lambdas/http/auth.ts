import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../core/errors';
import type { ApiRequest } from './api-types';

const BEARER = /^Bearer\s+(.+)$/i;

/**
 * Checks the token from `Authorization: Bearer <token>` or the `qstash_token` query parameter
 * (for webhook senders that cannot set headers). Compares digests in constant time so the
 * comparison's duration says nothing about how much of a guess was right.
 */
export function createAuthenticator(token: string): (request: ApiRequest) => void {
  const expected = createHash('sha256').update(token).digest();
  return (request) => {
    const presented = presentedToken(request);
    if (presented === undefined) {
      throw new UnauthorizedError(
        'missing token: send "Authorization: Bearer <QSTASH_TOKEN>" or ?qstash_token=<QSTASH_TOKEN>',
      );
    }
    if (!timingSafeEqual(createHash('sha256').update(presented).digest(), expected)) {
      throw new UnauthorizedError('invalid token');
    }
  };
}

function presentedToken(request: ApiRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1]?.trim() ?? '';
  if (request.rawQuery.includes('qstash_token=')) {
    return new URLSearchParams(request.rawQuery).get('qstash_token') ?? undefined;
  }
  return undefined;
}
