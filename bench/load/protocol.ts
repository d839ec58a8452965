import type { Percentiles } from '../lib/stats';

/** What the orchestrator asks the load generator process to do (argv[2], as JSON). */
export type LoadJob =
  | {
      readonly kind: 'publish';
      /** Base URL of the server under test. */
      readonly target: string;
      /** Destination URL given in the publish path. */
      readonly destination: string;
      /** Extra request headers (e.g. `Upstash-Delay`). */
      readonly headers: Readonly<Record<string, string>>;
      readonly connections: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | {
      /** 50 producers, each waits for its message to reach the sink before the next. */
      readonly kind: 'e2e-closed';
      readonly target: string;
      readonly connections: number;
      readonly warmupMs: number;
      readonly durationMs: number;
      readonly drainTimeoutMs: number;
    }
  | {
      /**
       * Publishes `messages` as fast as 50 connections take them, without waiting for delivery
       * (a backlog builds), then waits for every one to arrive.
       */
      readonly kind: 'e2e-burst';
      readonly target: string;
      readonly connections: number;
      readonly messages: number;
      /** Extra publish headers (e.g. a flow-control key). */
      readonly headers?: Readonly<Record<string, string>>;
      readonly drainTimeoutMs: number;
      /** The server's processes, whose CPU over the burst is reported (BurstResult.cpu). */
      readonly cpuOf?: readonly number[];
    }
  | {
      /** Publishes at a fixed rate whatever the answers (open loop). */
      readonly kind: 'e2e-paced';
      readonly target: string;
      readonly connections: number;
      readonly rate: number;
      readonly warmupMs: number;
      readonly durationMs: number;
      readonly drainTimeoutMs: number;
    };

/** Publish throughput and latency (answer received), over the measured window. */
export type PublishResult = {
  readonly requests: number;
  readonly perSecond: number;
  readonly latencyMs: Percentiles;
  readonly errors: number;
};

/** Messages that reached the sink, and publish-to-arrival latency, over the measured window. */
export type E2eResult = {
  readonly published: number;
  readonly delivered: number;
  readonly perSecond: number;
  readonly latencyMs: Percentiles;
  /** Publishes answered with anything but 2xx, or that failed. */
  readonly errors: number;
  /** Acknowledged messages that had not arrived when the drain timed out. */
  readonly missing: number;
  /** Arrivals of a message already seen (at-least-once redelivery). */
  readonly duplicates: number;
};

/**
 * The CPU a burst took per message delivered, over the same span as its delivered/s (first
 * publish to last arrival): the server's processes (all their threads), and every core of the
 * machine, the load generator and its sink included.
 */
export type BurstCpu = {
  readonly serverUsPerMessage: number;
  readonly machineUsPerMessage: number;
};

/** A burst: also how fast the publishes were answered while delivery ran. */
export type BurstResult = E2eResult & {
  /** Publishes answered 2xx per second, from the first publish sent to the last answered. */
  readonly publishPerSecond: number;
  /** When the job named the server's processes (`cpuOf`). */
  readonly cpu?: BurstCpu;
};

export type LoadResult = PublishResult | E2eResult;

/** The header the generator tags each message with (forwarded to the sink as `bench-seq`). */
export const SEQ_HEADER = 'upstash-forward-bench-seq';
export const SINK_SEQ_HEADER = 'bench-seq';

/** The HTTP clients the relay baseline can relay with (bench/baselines/relay.ts). */
export const RELAY_CLIENTS = ['node-http', 'undici-request', 'sqstash-client', 'fetch'] as const;
export type RelayClient = (typeof RELAY_CLIENTS)[number];
