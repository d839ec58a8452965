import { createHash } from 'node:crypto';
import type { IncomingHeaders } from './headers';
import type { DedupRequest } from './publish-options';

// The SDK's telemetry headers describe the client (version, runtime), not the message: the same
// message sent from two SDK versions, or from curl, is still the same message.
const TELEMETRY_PREFIX = 'upstash-telemetry-';

/**
 * The key a publish is deduplicated on. Content-based keys hash, per DECISIONS.md, the
 * destination, the raw body and every `Upstash-*` request header (forwarded ones included,
 * never `Authorization`, nor the telemetry ones), each length-prefixed so that no two different inputs can collide by
 * shifting bytes from one field to the next.
 */
export function dedupKey(
  request: DedupRequest,
  destination: string,
  headers: IncomingHeaders,
  body: Uint8Array,
): string {
  if (request.kind === 'id') return `id:${request.id}`;
  const hash = createHash('sha256');
  const field = (text: string) => hash.update(`${Buffer.byteLength(text)}:`).update(text);
  field(destination);
  const upstashHeaders = Object.entries(headers)
    .filter(
      ([name, value]) =>
        name.startsWith('upstash-') && !name.startsWith(TELEMETRY_PREFIX) && value !== undefined,
    )
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of upstashHeaders) {
    field(name);
    field(value ?? '');
  }
  hash.update(`${body.byteLength}:`).update(body);
  return `content:${hash.digest('base64url')}`;
}
