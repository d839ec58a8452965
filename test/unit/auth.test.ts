import crypto from 'node:crypto';
import { UnauthorizedError } from '../../lambdas/core/errors';
import type { ApiRequest } from '../../lambdas/http/api-types';
import { createAuthenticator } from '../../lambdas/http/auth';

const TOKEN = 'tok_0123456789abcdef0123456789abcdef';

function request(headers: Record<string, string>, rawQuery = ''): ApiRequest {
  return { method: 'GET', path: '/v2/keys', rawQuery, headers, body: new Uint8Array() };
}

describe('createAuthenticator', () => {
  afterEach(() => jest.restoreAllMocks());

  it('compares fixed-length digests in constant time, whatever the length of the guess', () => {
    const compare = jest.spyOn(crypto, 'timingSafeEqual');
    const authenticate = createAuthenticator(TOKEN);
    const guesses = ['', 't', TOKEN.slice(0, -1), `${TOKEN.slice(0, -1)}X`, `${TOKEN}extra`];

    for (const guess of guesses) {
      expect(() => authenticate(request({ authorization: `Bearer ${guess}` }))).toThrow(
        UnauthorizedError,
      );
    }
    authenticate(request({ authorization: `Bearer ${TOKEN}` }));

    expect(compare).toHaveBeenCalledTimes(guesses.length + 1);
    for (const [presented, expected] of compare.mock.calls) {
      expect([presented.byteLength, expected.byteLength]).toEqual([32, 32]);
    }
  });

  it('accepts the token from the header or the query, and nothing else', () => {
    const authenticate = createAuthenticator(TOKEN);

    expect(() => authenticate(request({}, `qstash_token=${TOKEN}`))).not.toThrow();
    expect(() => authenticate(request({ authorization: `bearer ${TOKEN}` }))).not.toThrow();
    expect(() => authenticate(request({ authorization: `Basic ${TOKEN}` }))).toThrow(
      'invalid token',
    );
    expect(() => authenticate(request({ 'x-token': TOKEN }))).toThrow('missing token');
  });
});
