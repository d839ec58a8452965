import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ScheduleCounts } from '../adapters/embedded/sqlite-gauges';
import type { Queue } from '../ports/queue-store';
import type { AttemptedKind, SettledAttempt, Telemetry } from '../ports/telemetry';

/** Where the gauges are read from, at each scrape. */
export type GaugeSources = {
  readonly pendingMessages: () => number;
  readonly inFlight: () => number;
  readonly deadLetters: () => number;
  readonly queues: () => Promise<readonly Queue[]>;
  readonly schedules: () => ScheduleCounts;
};

const KINDS: readonly AttemptedKind[] = ['message', 'callback', 'failure-callback'];
type CountersByKind = Record<AttemptedKind, Counter.Internal>;
const MS_PER_SECOND = 1000;
// From a group-committed publish (well under a millisecond) to one stalled on a busy disk.
const PUBLISH_BUCKETS_SEC = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
// Up to the largest Upstash-Timeout (15 minutes).
const ATTEMPT_BUCKETS_SEC = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
];
// Deliveries due at once, then retries and delays up to a week.
const DELIVERY_BUCKETS_SEC = [
  0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400, 604_800,
];

/**
 * The embedded server's Prometheus metrics: the core's Telemetry as counters and histograms,
 * plus gauges read when scraped. Publishes and settlements only increment and observe; nothing
 * is computed until a scrape asks.
 */
export class PrometheusMetrics implements Telemetry {
  readonly #registry = new Registry();
  readonly #published: Counter;
  readonly #deduplicated: Counter;
  readonly #publishSeconds: Histogram;
  readonly #attemptSeconds: Histogram;
  readonly #publishToDeliverySeconds: Histogram;
  readonly #outcomes: Record<'delivered' | 'retry' | 'failed', CountersByKind>;

  constructor(sources: GaugeSources) {
    const registers = [this.#registry];
    this.#published = new Counter({
      name: 'sqstash_messages_published_total',
      help: 'Messages stored by publishes: one per URL-group endpoint, batch element or schedule tick (EMF: Published)',
      registers,
    });
    this.#deduplicated = new Counter({
      name: 'sqstash_messages_deduplicated_total',
      help: 'Publishes answered with the message an earlier publish stored (Upstash-Deduplication-Id or content-based)',
      registers,
    });
    // The labelled children are made once: an increment then looks nothing up.
    const byKind = (name: string, help: string): CountersByKind => {
      const counter = new Counter({ name, help, labelNames: ['kind'], registers });
      // Every series exists from the start, at 0, so that a rate over it is defined.
      for (const kind of KINDS) counter.inc({ kind }, 0);
      return Object.fromEntries(
        KINDS.map((kind) => [kind, counter.labels(kind)]),
      ) as CountersByKind;
    };
    this.#outcomes = {
      delivered: byKind(
        'sqstash_messages_delivered_total',
        'Attempts answered 2xx, by what was attempted: message, callback or failure-callback (EMF: Delivered)',
      ),
      retry: byKind(
        'sqstash_messages_retried_total',
        'Failed attempts after which a retry was scheduled (EMF: Retried)',
      ),
      failed: byKind(
        'sqstash_messages_failed_total',
        'Failed attempts with no retry left, or non-retryable: the message was dead-lettered (EMF: Failed)',
      ),
    };
    this.#publishSeconds = new Histogram({
      name: 'sqstash_publish_duration_seconds',
      help: 'From the start of a publish until its messages were durable',
      buckets: PUBLISH_BUCKETS_SEC,
      registers,
    });
    this.#attemptSeconds = new Histogram({
      name: 'sqstash_attempt_duration_seconds',
      help: 'One delivery attempt: signing it and the exchange with the destination',
      buckets: ATTEMPT_BUCKETS_SEC,
      registers,
    });
    this.#publishToDeliverySeconds = new Histogram({
      name: 'sqstash_publish_to_delivery_seconds',
      help: 'From the publish of a message (not a callback) to its delivery, delays and retries included',
      buckets: DELIVERY_BUCKETS_SEC,
      registers,
    });
    registerGauges(registers, sources);
  }

  published(stored: number, deduplicated: number, durationMs: number): void {
    if (stored > 0) this.#published.inc(stored);
    if (deduplicated > 0) this.#deduplicated.inc(deduplicated);
    this.#publishSeconds.observe(durationMs / MS_PER_SECOND);
  }

  attemptSettled(attempt: SettledAttempt): void {
    this.#attemptSeconds.observe(attempt.attemptMs / MS_PER_SECOND);
    if (attempt.outcome !== 'canceled') this.#outcomes[attempt.outcome][attempt.kind].inc();
    if (attempt.publishToDeliveryMs !== undefined && attempt.kind === 'message') {
      this.#publishToDeliverySeconds.observe(attempt.publishToDeliveryMs / MS_PER_SECOND);
    }
  }

  /** The metrics' content type, Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Every metric in the Prometheus text format: this server's, then the process's. */
  async text(): Promise<string> {
    return (await this.#registry.metrics()) + (await processRegistry().metrics());
  }
}

function registerGauges(registers: Registry[], sources: GaugeSources): void {
  new Gauge({
    name: 'sqstash_messages_pending',
    help: 'Messages not yet delivered, failed or canceled (callbacks included): waiting, due for a retry, or in flight',
    registers,
    collect() {
      this.set(sources.pendingMessages());
    },
  });
  new Gauge({
    name: 'sqstash_messages_in_flight',
    help: 'Delivery attempts running now',
    registers,
    collect() {
      this.set(sources.inFlight());
    },
  });
  new Gauge({
    name: 'sqstash_dead_letters',
    help: 'Entries in the dead-letter queue (/v2/dlq)',
    registers,
    collect() {
      this.set(sources.deadLetters());
    },
  });
  new Gauge({
    name: 'sqstash_queue_lag',
    help: 'Undelivered messages of each FIFO queue, as /v2/queues shows them',
    labelNames: ['queue'],
    registers,
    async collect() {
      const queues = await sources.queues();
      // A deleted queue's series goes with it.
      this.reset();
      for (const queue of queues) this.set({ queue: queue.name }, queue.lag);
    },
  });
  new Gauge({
    name: 'sqstash_schedules',
    help: 'Schedules, by state: running (with a next tick) or paused',
    labelNames: ['state'],
    registers,
    collect() {
      const { running, paused } = sources.schedules();
      this.set({ state: 'running' }, running);
      this.set({ state: 'paused' }, paused);
    },
  });
}

let processMetrics: Registry | undefined;

/**
 * The process's own metrics (CPU, memory, event-loop delay, GC: prom-client's defaults, under
 * their usual names), registered once per process: they describe the process, not one server.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}
