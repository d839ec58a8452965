import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a destination received it. */
export type ReceivedRequest = {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Names and values alternating, with the names cased exactly as sent. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly receivedAt: number;
};

export type Reply = {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Hold the response this long before answering. */
  delayMs?: number;
};

/** Chooses the answer to a request; the default answers 200. */
export type Responder = (request: ReceivedRequest, index: number) => Reply;

/**
 * A real HTTP destination on 127.0.0.1 that records what it receives and answers as told:
 * the thing sqstash delivers to, in every end-to-end test.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  #server: Server;
  #responder: Responder;
  #waiters: Array<() => void> = [];
  readonly #pendingReplies = new Set<NodeJS.Timeout>();

  private constructor(responder: Responder) {
    this.#responder = responder;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const received: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks),
          receivedAt: Date.now(),
        };
        const reply = this.#responder(received, this.requests.length);
        this.requests.push(received);
        for (const wake of this.#waiters.splice(0)) wake();
        const timer = setTimeout(() => {
          this.#pendingReplies.delete(timer);
          res.writeHead(reply.status, reply.headers);
          res.end(reply.body ?? '');
        }, reply.delayMs ?? 0);
        this.#pendingReplies.add(timer);
      });
    });
  }

  static async start(responder: Responder = () => ({ status: 200 })): Promise<TestReceiver> {
    const receiver = new TestReceiver(responder);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  respondWith(responder: Responder): void {
    this.#responder = responder;
  }

  /** Resolves once `count` requests have arrived, or rejects after `timeoutMs`. */
  async waitForRequests(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `expected ${count} requests within ${timeoutMs}ms, got ${this.requests.length}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests.slice(0, count);
  }

  async stop(): Promise<void> {
    for (const timer of this.#pendingReplies) clearTimeout(timer);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A responder that answers after `replyDelayMs` and tracks how many requests it is answering at
 * once (`probe.max`): the count drops just before each answer is sent, so it never exceeds what
 * the sender has in flight.
 */
export function concurrencyProbe(replyDelayMs: number): {
  probe: { max: number; readonly current: number };
  responder: Responder;
} {
  let current = 0;
  const probe = {
    max: 0,
    get current() {
      return current;
    },
  };
  const responder: Responder = () => {
    current += 1;
    probe.max = Math.max(probe.max, current);
    setTimeout(() => {
      current -= 1;
    }, replyDelayMs);
    return { status: 200, delayMs: replyDelayMs };
  };
  return { probe, responder };
}
