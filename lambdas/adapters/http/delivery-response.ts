/**
 * What every delivery client does alike with an attempt: refuse a forbidden IP literal, run the
 * exchange under the attempt's deadline and the runtime's shutdown, read the response body up
 * to the cap, and say in one line what went wrong with a connection (the event log and the DLQ
 * show it). Shared by the undici client (the embedded server) and the node:http client (the
 * Lambda delivery function), so a failure reads the same in both runtimes.
 */
import type { DeliveryRequest, DestinationAddressPolicy } from '../../ports/delivery-client';
import { AttemptAbortedError, DeliveryAttemptError } from '../../ports/delivery-client';
import {
  addressRefusal,
  DestinationRefusedError,
  literalAddress,
} from './destination-address-policy';

/** How long a connection may take to open before the attempt fails. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** The code of the error a client raises when a connection took longer than that. */
export const CONNECT_TIMEOUT_CODE = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * Runs one attempt: refuses a destination whose IP literal the policy forbids (a host name is
 * checked where its connections are made), then runs `exchange` under the attempt's deadline
 * (`timeoutMs` covers the whole exchange) and the runtime's shutdown signal, and turns its
 * failure into the attempt's error: aborted by shutdown, timed out, or the network's failure.
 */
export async function runAttempt<T>(
  delivery: DeliveryRequest,
  policy: DestinationAddressPolicy,
  exchange: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const literal = literalAddress(delivery.url);
  const refusal = literal === undefined ? undefined : addressRefusal(literal, policy);
  if (refusal !== undefined) throw new DeliveryAttemptError(refusal);
  // One controller per attempt rather than AbortSignal.any over the runtime's long-lived
  // shutdown signal: on Node 20 every signal `any` makes stays referenced from its sources,
  // a few hundred bytes per attempt that are never freed.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, delivery.timeoutMs);
  const onShutdown = () => controller.abort();
  delivery.signal?.addEventListener('abort', onShutdown, { once: true });
  try {
    return await exchange(controller.signal);
  } catch (error) {
    if (delivery.signal?.aborted) throw new AttemptAbortedError();
    if (timedOut) {
      throw new DeliveryAttemptError(`timed out after ${delivery.timeoutMs}ms (Upstash-Timeout)`, {
        cause: error,
      });
    }
    throw new DeliveryAttemptError(describeNetworkError(error), { cause: error });
  } finally {
    clearTimeout(timer);
    delivery.signal?.removeEventListener('abort', onShutdown);
  }
}

/** A response body kept up to `maxBytes`: what a longer one sends past it is dropped. */
export class CappedBody {
  readonly #maxBytes: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Keeps what fits of `chunk`; true once the cap is reached, when the connection is dropped. */
  add(chunk: Buffer): boolean {
    const room = this.#maxBytes - this.#size;
    this.#chunks.push(room < chunk.byteLength ? chunk.subarray(0, room) : chunk);
    this.#size += Math.min(room, chunk.byteLength);
    return this.#size >= this.#maxBytes;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks, this.#size);
  }
}

/** The body, cut at `maxBytes`; a longer one is dropped with its connection, not drained. */
export async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): void },
  maxBytes: number,
): Promise<Uint8Array> {
  const capped = new CappedBody(maxBytes);
  for await (const chunk of body) {
    if (capped.add(chunk)) {
      body.destroy();
      break;
    }
  }
  return capped.bytes();
}

type ErrorLink = {
  name?: string;
  message?: string;
  code?: string;
  /** OpenSSL's short reason, e.g. "wrong version number". */
  reason?: string;
  cause?: unknown;
};

/**
 * The error and its causes, outermost first: undici wraps socket errors in its own. Read by
 * shape, not `instanceof Error`: errors from Node's internals may come from another realm.
 */
function errorChain(error: unknown): ErrorLink[] {
  const chain: ErrorLink[] = [];
  for (let current = error; typeof current === 'object' && current !== null && chain.length < 5; ) {
    const link = current as ErrorLink;
    chain.push(link);
    current = link.cause;
  }
  return chain;
}

/** One line for the event log and the DLQ, saying what went wrong with the connection. */
export function describeNetworkError(error: unknown): string {
  const chain = errorChain(error);
  const refused = chain.find((link) => link.code === DestinationRefusedError.CODE);
  if (refused) return String(refused.message);
  if (chain.some((link) => link.code === CONNECT_TIMEOUT_CODE)) {
    return 'connection timed out';
  }
  // undici's parser error, or node:http's (codes HPE_*).
  const parser = chain.find(
    (link) => link.name === 'HTTPParserError' || link.code?.startsWith('HPE_') === true,
  );
  if (parser) return `invalid HTTP response: ${parser.message}`;
  const { code, message, reason } = chain.find((link) => link.code !== undefined) ?? chain[0] ?? {};
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return `connection reset before a complete response (${code})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable (${code})`;
    case 'EPROTO': {
      // node:https reports some handshake failures this way, OpenSSL's reason in the message
      // ("...:SSL routines:ssl3_get_record:wrong version number:..."); undici as ERR_SSL_*.
      const openssl = /SSL routines:[^:]*:([^:]+):/.exec(message ?? '');
      if (openssl) {
        const sslReason = openssl[1]!;
        return `TLS error: ${sslReason} (ERR_SSL_${sslReason.toUpperCase().replace(/\W+/g, '_')})`;
      }
      return `request failed: ${message ?? String(error)} (${code})`;
    }
    default:
      if (code?.startsWith('ERR_TLS') || code?.startsWith('ERR_SSL') || code?.includes('CERT')) {
        return `TLS error: ${reason ?? message} (${code})`;
      }
      return `request failed: ${message ?? String(error)}${code ? ` (${code})` : ''}`;
  }
}
