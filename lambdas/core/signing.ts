import { createHash, createHmac } from 'node:crypto';

/** The pair of keys QStash signs with: `current` signs, `next` lets receivers roll over. */
export type SigningKeys = { readonly current: string; readonly next: string };

const TOKEN_LIFETIME_SEC = 300;
const MS_PER_SEC = 1000;
/** The JOSE header of every token, encoded once. */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * Signs one outgoing request as QStash does (qstash-api.md §4): an HS256 JWT keyed with the
 * UTF-8 bytes of the key string, `iss` "Upstash", `sub` the exact URL called, and `body` the
 * base64url SHA-256 of the raw body bytes. `nbf` is 0, as QStash sets it since Sep 2024, so a
 * receiver whose clock runs behind ours does not reject a fresh token.
 *
 * Built with node:crypto directly: the token is one HMAC over a fixed header and a small JSON
 * payload, and doing it by hand costs a fraction of a general JWT library's per-call key import
 * and promise chain, on every delivery attempt.
 */
export function signRequest(
  key: string,
  url: string,
  body: Uint8Array,
  nowMs: number,
  jwtId: string,
): string {
  const issuedAt = Math.floor(nowMs / MS_PER_SEC);
  const bodyHash = createHash('sha256').update(body).digest('base64url');
  // QStash's own tokens keep the base64 padding; verifiers strip it before comparing.
  const paddedBodyHash = bodyHash.padEnd(Math.ceil(bodyHash.length / 4) * 4, '=');
  const claims = {
    body: paddedBodyHash,
    iss: 'Upstash',
    sub: url,
    iat: issuedAt,
    nbf: 0,
    exp: issuedAt + TOKEN_LIFETIME_SEC,
    jti: jwtId,
  };
  const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = createHmac('sha256', key).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}
