import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';

/** The pair of keys QStash signs with: `current` signs, `next` lets receivers roll over. */
export type SigningKeys = { readonly current: string; readonly next: string };

const TOKEN_LIFETIME_SEC = 300;
const MS_PER_SEC = 1000;
const encoder = new TextEncoder();

/**
 * Signs one outgoing request as QStash does (qstash-api.md §4): an HS256 JWT keyed with the
 * UTF-8 bytes of the key string, `iss` "Upstash", `sub` the exact URL called, and `body` the
 * base64url SHA-256 of the raw body bytes. `nbf` is 0, as QStash sets it since Sep 2024, so a
 * receiver whose clock runs behind ours does not reject a fresh token.
 */
export async function signRequest(
  key: string,
  url: string,
  body: Uint8Array,
  nowMs: number,
  jwtId: string,
): Promise<string> {
  const issuedAt = Math.floor(nowMs / MS_PER_SEC);
  const bodyHash = createHash('sha256').update(body).digest('base64url');
  // QStash's own tokens keep the base64 padding; verifiers strip it before comparing.
  const paddedBodyHash = bodyHash.padEnd(Math.ceil(bodyHash.length / 4) * 4, '=');
  return new SignJWT({ body: paddedBodyHash })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('Upstash')
    .setSubject(url)
    .setIssuedAt(issuedAt)
    .setNotBefore(0)
    .setExpirationTime(issuedAt + TOKEN_LIFETIME_SEC)
    .setJti(jwtId)
    .sign(encoder.encode(key));
}
