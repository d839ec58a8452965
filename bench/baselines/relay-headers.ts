import type { IncomingHttpHeaders } from 'node:http';

const FORWARD_PREFIX = 'upstash-forward-';

/**
 * The headers a baseline passes on to the destination: each `Upstash-Forward-*` header without
 * its prefix, and `Content-Type`, as sqstash forwards them.
 */
export function forwardHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (typeof value !== 'string') continue;
    if (name.startsWith(FORWARD_PREFIX)) headers[name.slice(FORWARD_PREFIX.length)] = value;
    else if (name === 'content-type') headers[name] = value;
  }
  return headers;
}
