import type { HttpMethod } from '../core/message';

/** One HTTP call to a destination or callback URL, fully built and signed by the core. */
export type DeliveryRequest = {
  readonly url: string;
  readonly method: HttpMethod;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
  /** Aborted when the runtime shuts down mid-attempt; the attempt is then released, not counted. */
  readonly signal?: AbortSignal;
};

/** The destination's answer; the body is cut at the configured maximum. */
export type DeliveryResponse = {
  readonly status: number;
  /** Lowercase names, as received. */
  readonly headers: Readonly<Record<string, string[]>>;
  readonly body: Uint8Array;
};

/**
 * Sends delivery requests. Redirects are never followed (a 3xx is a failed attempt) and the
 * response body is read at most up to the cap. Fails with DeliveryAttemptError for anything
 * that produced no HTTP response (refused, reset, timeout, TLS), or AttemptAbortedError when
 * the request's signal fired.
 */
export type DeliveryClient = {
  send(request: DeliveryRequest): Promise<DeliveryResponse>;
};

/**
 * Which addresses a delivery may connect to, checked on the address each connection actually
 * uses. Public addresses are always allowed; multicast and reserved ones never are.
 */
export type DestinationAddressPolicy = {
  /** 127.0.0.0/8, ::1, and 0.0.0.0 (which reaches this host). */
  readonly allowLoopback: boolean;
  /**
   * Private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and link-local
   * addresses (169.254/16, fe80::/10), where cloud metadata services such as 169.254.169.254 live.
   */
  readonly allowPrivate: boolean;
};

/** An attempt that got no HTTP response; the message says why, for the log and the DLQ. */
export class DeliveryAttemptError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeliveryAttemptError';
  }
}

/** The runtime stopped the attempt (shutdown); it does not count as a try. */
export class AttemptAbortedError extends Error {
  constructor() {
    super('delivery attempt aborted by shutdown');
    this.name = 'AttemptAbortedError';
  }
}
