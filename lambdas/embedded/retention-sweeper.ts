import type { SweepBatch } from '../adapters/embedded/sqlite-retention';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';

export type RetentionSweeperOptions = {
  readonly sweepBatch: (cutoffMs: number, nowMs: number) => SweepBatch;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long finished messages, their events and dead letters are kept. */
  readonly retentionMs: number;
};

/** Sweeps run at least this often, and more often when retention is shorter. */
const MAX_INTERVAL_MS = 60_000;

/**
 * Runs retention in the embedded server: a sweep every min(1 min, retention), each a series of
 * short batches with a turn of the event loop between them, so publishes and deliveries go on
 * while it runs.
 */
export class RetentionSweeper {
  readonly #options: RetentionSweeperOptions;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: RetentionSweeperOptions) {
    this.#options = options;
    this.#intervalMs = Math.min(MAX_INTERVAL_MS, options.retentionMs);
  }

  start(): void {
    this.#schedule(0);
  }

  /** Stops sweeping; resolves once a sweep under way has finished its current batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#sweep().finally(() => {
        this.#running = undefined;
        this.#schedule(this.#intervalMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    const { sweepBatch, clock, logger, retentionMs } = this.#options;
    const now = clock.now();
    const totals = {
      messages: 0,
      deadLetters: 0,
      dedupKeys: 0,
      flowControlKeys: 0,
      flowControlStarts: 0,
      workflowRuns: 0,
      workflowNotifications: 0,
      freedPages: 0,
      batches: 0,
    };
    let longestBatchMs = 0;
    try {
      for (let more = true; more && !this.#stopped; ) {
        const batch = sweepBatch(now - retentionMs, now);
        totals.messages += batch.messages;
        totals.deadLetters += batch.deadLetters;
        totals.dedupKeys += batch.dedupKeys;
        totals.flowControlKeys += batch.flowControlKeys;
        totals.flowControlStarts += batch.flowControlStarts;
        totals.workflowRuns += batch.workflowRuns;
        totals.workflowNotifications += batch.workflowNotifications;
        totals.freedPages += batch.freedPages;
        totals.batches += 1;
        longestBatchMs = Math.max(longestBatchMs, batch.durationMs);
        more = batch.more;
        if (more) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // The store failed (disk full, I/O error): the next sweep tries again.
      logger.error('retention sweep failed; will retry', {
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const { batches: _batches, ...removed } = totals;
    if (Object.values(removed).some((count) => count > 0)) {
      logger.info('retention sweep', {
        ...totals,
        longestBatchMs: Math.round(longestBatchMs * 10) / 10,
      });
    }
  }
}
