/**
 * What every benchmark runs with: one place for the load shapes and time budgets, so the whole
 * `npm run bench` stays under five minutes on a shared two-core machine.
 */
export const BENCH = {
  /** Keep-alive connections the load generator opens to the server under test. */
  connections: 50,
  /** Size of the JSON body every publish carries. */
  bodyBytes: 1024,
  /** Publish throughput: warm-up, then the measured window, per server. */
  publish: { warmupMs: 2_000, durationMs: 6_000 },
  /**
   * End-to-end, unpaced: 50 producers each publish, then wait for their message to reach the
   * sink before publishing the next (a closed loop of 50 messages in flight, no backlog).
   */
  e2e: { warmupMs: 1_500, durationMs: 6_000 },
  /** End-to-end with a backlog: this many published as fast as they are taken, then drained. */
  burst: { messages: 15_000 },
  /** End-to-end at a fixed rate, open loop (latency from the scheduled send time). */
  paced: { rate: 500, warmupMs: 1_000, durationMs: 6_000 },
  /**
   * How long the end of a run waits for the messages still in flight to arrive: long, so that a
   * machine busy with other work shows as slow rather than as messages missing.
   */
  drainTimeoutMs: 60_000,
  /** Fresh-process loads per bundle (medians are reported). */
  coldStartRuns: 15,
  /** Messages run through the Lambda handlers in-process for the cost model. */
  costMessages: 200,
} as const;

/** The token the embedded server accepts by default (QStash's public development token). */
export { DEV_TOKEN } from '../lambdas/embedded/dev-credentials';

/** A 1 KB JSON document, the body of every published message. */
export function jsonBody(bytes: number = BENCH.bodyBytes): string {
  const head = '{"event":"order.created","data":"';
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}
