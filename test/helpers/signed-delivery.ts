import { createHash } from 'node:crypto';
import { Receiver } from '@upstash/qstash';
import { jwtVerify } from 'jose';
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY } from './embedded-server';
import type { ReceivedRequest, TestReceiver } from './receiver';

/** The official SDK's verifier, configured with the keys the test server signs with. */
export const devReceiver = new Receiver({
  currentSigningKey: DEV_CURRENT_SIGNING_KEY,
  nextSigningKey: DEV_NEXT_SIGNING_KEY,
});

/**
 * Asserts `request` is a delivery sqstash signed for `url`: it arrived on that URL's path and
 * query, and its `Upstash-Signature` passes the official `Receiver.verify` with `url` (so the
 * `sub` claim must be exactly that URL) and the body as received.
 *
 * The Receiver hashes a JS string as UTF-8, so it cannot take a body that is not valid UTF-8.
 * For such a body the same checks (HS256 with the current key, `iss`, `exp`, `sub`, and the
 * base64url SHA-256 `body` claim) are made with jose, over the raw bytes.
 */
export async function expectSignedDelivery(request: ReceivedRequest, url: string): Promise<void> {
  const expected = new URL(url);
  expect(request.path).toBe(`${expected.pathname}${expected.search}`);
  const signature = request.headers['upstash-signature'];
  if (typeof signature !== 'string') throw new Error('the request has no Upstash-Signature header');
  const text = request.body.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(request.body)) {
    await expect(devReceiver.verify({ signature, body: text, url })).resolves.toBe(true);
    return;
  }
  const { payload } = await jwtVerify(
    signature,
    new TextEncoder().encode(DEV_CURRENT_SIGNING_KEY),
    {
      issuer: 'Upstash',
    },
  );
  expect(payload.sub).toBe(url);
  expect(String(payload.body).replace(/=+$/, '')).toBe(
    createHash('sha256').update(request.body).digest('base64url'),
  );
}

/** The headers QStash puts on every attempt (qstash-api.md §3.1). */
export function expectDeliveryHeaders(
  request: ReceivedRequest,
  expected: { messageId: string; retried: number },
): void {
  expect(request.headers['user-agent']).toBe('Upstash-QStash');
  expect(request.headers['upstash-message-id']).toBe(expected.messageId);
  expect(request.headers['upstash-retried']).toBe(String(expected.retried));
}

/** Header names exactly as the destination received them on the wire. */
export function rawHeaderNames(request: ReceivedRequest): string[] {
  return request.rawHeaders.filter((_, index) => index % 2 === 0);
}

/**
 * For negative assertions only ("nothing more arrives"): waits `ms`, then checks that the
 * receiver still has exactly `count` requests. Prefer waiting on a positive signal first.
 */
export async function expectNoMoreRequests(
  receiver: TestReceiver,
  count: number,
  ms = 300,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  expect(receiver.requests).toHaveLength(count);
}

/** The JSON body of a callback or failure-callback request. */
export function callbackBody(request: ReceivedRequest): Record<string, unknown> {
  return JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
}

export function base64(text: string | Buffer): string {
  return Buffer.from(text).toString('base64');
}
