import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { Agent } from 'undici';
import type {
  DeliveryClient,
  DeliveryRequest,
  DeliveryResponse,
  DestinationAddressPolicy,
} from '../../ports/delivery-client';
import { CappedBody, CONNECT_TIMEOUT_MS, runAttempt } from './delivery-response';
import { policyLookup } from './destination-address-policy';

export type UndiciDeliveryClientOptions = {
  /** Response bytes kept for callbacks and dead letters; the rest is discarded unread. */
  readonly maxResponseBodyBytes: number;
  /** Keep-alive connections per destination origin. @default 64 */
  readonly connectionsPerOrigin?: number;
  /** Which addresses destinations and callbacks may connect to. */
  readonly addressPolicy: DestinationAddressPolicy;
};

const DEFAULT_CONNECTIONS_PER_ORIGIN = 64;
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

/**
 * Delivers over undici's dispatcher with a keep-alive pool per origin: on Node 20 it relays
 * several times more requests per second than fetch, and a handler of its own takes the
 * response as it comes, with none of the stream, signal and body plumbing of undici's request
 * API (alone, 78 µs of CPU per request against 130 for request() and a capped read of its
 * body, the destination's own included). Redirects are not followed, so a 3xx is a failed
 * attempt.
 *
 * The address policy is enforced where the connection is made: an IP literal in the URL is
 * checked before the request, and a host name through the connector's `lookup`, on the
 * addresses each new connection resolves to, so DNS rebinding cannot get around it.
 */
export class UndiciDeliveryClient implements DeliveryClient {
  readonly #agent: Agent;
  readonly #maxResponseBodyBytes: number;
  readonly #addressPolicy: DestinationAddressPolicy;

  constructor(options: UndiciDeliveryClientOptions) {
    this.#maxResponseBodyBytes = options.maxResponseBodyBytes;
    this.#addressPolicy = options.addressPolicy;
    this.#agent = new Agent({
      connections: options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS_PER_ORIGIN,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connect: { timeout: CONNECT_TIMEOUT_MS, lookup: policyLookup(options.addressPolicy) },
    });
  }

  send(delivery: DeliveryRequest): Promise<DeliveryResponse> {
    return runAttempt(delivery, this.#addressPolicy, (signal) => this.#exchange(delivery, signal));
  }

  /**
   * One request and its response, the body kept up to the cap: a longer one is cut there and
   * its connection dropped rather than drained. `signal` aborts it (the attempt's deadline, the
   * runtime's shutdown), failing it with the signal's reason.
   */
  #exchange(delivery: DeliveryRequest, signal: AbortSignal): Promise<DeliveryResponse> {
    const { origin, pathname, search } = new URL(delivery.url);
    const body = new CappedBody(this.#maxResponseBodyBytes);
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let settled = false;
      let controller: Dispatcher.DispatchController | undefined;
      const onAbort = () => controller?.abort(signal.reason as Error);
      const settle = (error?: Error) => {
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else
          resolve({
            status,
            headers: normalizeHeaders(headers),
            body: body.bytes(),
          });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#agent.dispatch(
        {
          origin,
          path: pathname + search,
          method: delivery.method,
          headers: delivery.headers,
          body: delivery.body.byteLength > 0 ? delivery.body : undefined,
          // The per-attempt deadline covers the whole exchange, so undici's own idle timers are off.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        {
          onRequestStart: (started) => {
            controller = started;
            if (signal.aborted) started.abort(signal.reason as Error);
          },
          onResponseStart: (_, statusCode, responseHeaders) => {
            status = statusCode;
            headers = responseHeaders;
          },
          onResponseData: (reading, chunk) => {
            if (settled) return;
            if (body.add(chunk)) {
              settle();
              reading.abort(new Error('response body cut at the cap'));
            }
          },
          onResponseEnd: () => {
            if (!settled) settle();
          },
          onResponseError: (_, error) => {
            if (!settled) settle(error);
          },
        },
      );
    });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function normalizeHeaders(headers: IncomingHttpHeaders): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name.toLowerCase()] = Array.isArray(value) ? value : [value];
  }
  return result;
}
