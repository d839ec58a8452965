import * as http from 'node:http';
import * as https from 'node:https';
import type {
  DeliveryClient,
  DeliveryRequest,
  DeliveryResponse,
  DestinationAddressPolicy,
} from '../../ports/delivery-client';
import {
  CONNECT_TIMEOUT_CODE,
  CONNECT_TIMEOUT_MS,
  readCapped,
  runAttempt,
} from './delivery-response';
import { policyLookup } from './destination-address-policy';

export type NodeHttpDeliveryClientOptions = {
  /** Response bytes kept for callbacks and dead letters; the rest is discarded unread. */
  readonly maxResponseBodyBytes: number;
  /** Which addresses destinations and callbacks may connect to. */
  readonly addressPolicy: DestinationAddressPolicy;
};

/** Idle keep-alive connections are closed after this, before most servers close them (5 s). */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

/**
 * Delivers over node:http and node:https with keep-alive agents: the Lambda delivery
 * function's client. A function instance sends at most a batch's ten requests at a time, where
 * node:http is as fast as undici; and it is built into Node, so it adds nothing to the bundle
 * and little to a cold start (undici's client took a third of the delivery function's load
 * time). The embedded server's throughput needs undici (undici-delivery-client.ts).
 *
 * The same rules as that client: redirects are not followed, the body is read up to the cap,
 * and the address policy is enforced where each connection is made (an IP literal before the
 * request, a host name through the connection's `lookup`, so DNS rebinding cannot get around
 * it).
 */
export class NodeHttpDeliveryClient implements DeliveryClient {
  readonly #agents: { readonly 'http:': http.Agent; readonly 'https:': https.Agent };
  readonly #lookup: ReturnType<typeof policyLookup>;
  readonly #maxResponseBodyBytes: number;
  readonly #addressPolicy: DestinationAddressPolicy;

  constructor(options: NodeHttpDeliveryClientOptions) {
    this.#maxResponseBodyBytes = options.maxResponseBodyBytes;
    this.#addressPolicy = options.addressPolicy;
    this.#lookup = policyLookup(options.addressPolicy);
    const agentOptions = { keepAlive: true, timeout: KEEP_ALIVE_TIMEOUT_MS };
    this.#agents = {
      'http:': new http.Agent(agentOptions),
      'https:': new https.Agent(agentOptions),
    };
  }

  send(delivery: DeliveryRequest): Promise<DeliveryResponse> {
    return runAttempt(delivery, this.#addressPolicy, async (signal) => {
      const url = new URL(delivery.url);
      const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
      const response = await this.#exchange(url, protocol, delivery, signal);
      const body = await readCapped(response, this.#maxResponseBodyBytes);
      return {
        status: response.statusCode ?? 0,
        headers: response.headersDistinct as Record<string, string[]>,
        body,
      };
    });
  }

  /** Sends the request and resolves with the response, its body still to read. */
  #exchange(
    url: URL,
    protocol: 'http:' | 'https:',
    delivery: DeliveryRequest,
    signal: AbortSignal,
  ): Promise<http.IncomingMessage> {
    const transport = protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, {
        method: delivery.method,
        headers: delivery.headers,
        agent: this.#agents[protocol],
        lookup: this.#lookup,
        signal,
      });
      request.once('response', resolve);
      request.once('error', reject);
      request.once('socket', (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => {
          request.destroy(
            Object.assign(new Error('connection timed out'), { code: CONNECT_TIMEOUT_CODE }),
          );
        }, CONNECT_TIMEOUT_MS);
        socket.once('connect', () => clearTimeout(connectTimer));
        socket.once('close', () => clearTimeout(connectTimer));
      });
      request.end(delivery.body.byteLength > 0 ? delivery.body : undefined);
    });
  }

  async close(): Promise<void> {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }
}
