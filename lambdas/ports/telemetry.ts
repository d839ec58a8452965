import type { CallbackKind } from '../core/message';
import type { AttemptSettlement } from './message-store';

/** What an attempt led to, as the store applied it: the settlement's outcome. */
export type AttemptOutcome = AttemptSettlement['outcome']['kind'];

/** What was attempted: a published message, or a callback reporting on one's attempt. */
export type AttemptedKind = 'message' | CallbackKind;

/** One settled attempt, as the core reports it. */
export type SettledAttempt = {
  /**
   * `delivered` (a 2xx), `retry` (it failed and a retry is scheduled), `failed` (it failed with
   * no retry left, or non-retryably: the message is dead-lettered) or `canceled` (the message
   * was canceled while the attempt ran).
   */
  readonly outcome: AttemptOutcome;
  readonly kind: AttemptedKind;
  /** The attempt itself: signing the request and the exchange with the destination. */
  readonly attemptMs: number;
  /** Delivered only: from the message's publish (a callback's creation) to this delivery. */
  readonly publishToDeliveryMs?: number;
};

/**
 * What the core reports as messages move, for a runtime's metrics: the embedded server's
 * Prometheus `/metrics`, and in the same terms the AWS runtime's EMF metrics. What counts as a
 * publish, a delivery, a retry or a failure is decided here and in the core that calls it, once
 * for every runtime. Calls come on the hot path: an implementation only counts, and never throws.
 */
export type Telemetry = {
  /**
   * One publish finished: a `/v2/publish` or `/v2/enqueue`, one element of a `/v2/batch`, or a
   * schedule tick. `stored` new messages (one per endpoint of a URL group), `deduplicated`
   * answered with the message an earlier publish stored; `durationMs` from the publish's start
   * until its messages were durable. A refused publish (a 4xx) is not reported.
   */
  published(stored: number, deduplicated: number, durationMs: number): void;
  /** An attempt was settled (callbacks are attempted, and reported, like any message). */
  attemptSettled(attempt: SettledAttempt): void;
};
