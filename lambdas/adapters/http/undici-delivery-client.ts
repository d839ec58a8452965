import { Agent, request } from 'undici';
import type {
  DeliveryClient,
  DeliveryRequest,
  DeliveryResponse,
  DestinationAddressPolicy,
} from '../../ports/delivery-client';
import { CONNECT_TIMEOUT_MS, readCapped, runAttempt } from './delivery-response';
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
 * Delivers over undici's request API with a keep-alive pool per origin: on Node 20 it relays
 * several times more requests per second than fetch. Redirects are not followed (undici's
 * request never does), so a 3xx is a failed attempt.
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
    return runAttempt(delivery, this.#addressPolicy, async (signal) => {
      const response = await request(delivery.url, {
        dispatcher: this.#agent,
        method: delivery.method,
        headers: delivery.headers,
        body: delivery.body.byteLength > 0 ? delivery.body : undefined,
        signal,
        // The per-attempt timeout covers the whole exchange, so undici's own idle timers are off.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const body = await readCapped(response.body, this.#maxResponseBodyBytes);
      return { status: response.statusCode, headers: normalizeHeaders(response.headers), body };
    });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function normalizeHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name.toLowerCase()] = Array.isArray(value) ? value : [value];
  }
  return result;
}
