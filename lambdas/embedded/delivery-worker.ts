import { setMaxListeners } from 'node:events';
import type { ClaimedMessage, SqliteMessageStore } from '../adapters/embedded/sqlite-message-store';
import { originOf } from '../adapters/embedded/sqlite-message-store';
import type { Message } from '../core/message';
import type { Clock } from '../ports/clock';
import { AttemptAbortedError } from '../ports/delivery-client';
import type { Logger } from '../ports/logger';

/** Runs one attempt; `claimedAt` is when the claim took it, the attempt's start. */
export type DeliverFn = (
  message: Message,
  retried: number,
  signal: AbortSignal,
  claimedAt: number,
) => Promise<unknown>;

export type DeliveryWorkerOptions = {
  readonly store: SqliteMessageStore;
  /**
   * Runs a claim (synchronous on the store's database) in the next group commit, resolving once
   * it has committed (SqliteGroupCommit.commit).
   */
  readonly commit: <T>(write: () => T) => Promise<T>;
  readonly deliver: DeliverFn;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Attempts in flight at once. */
  readonly concurrency: number;
  /** Attempts in flight at once to one destination origin. @default concurrency (no cap) */
  readonly concurrencyPerDestination?: number;
  /** How long a claim is held; longer than any attempt can take. */
  readonly leaseMs: number;
};

// setTimeout's largest delay; a later due time is reached by waking up and looking again.
const MAX_TIMER_MS = 2 ** 31 - 1;
// After an unexpected failure (not a failed delivery, which the core settles), a message
// waits this long before it is tried again, so a persistent fault cannot spin the CPU.
const FAULT_BACKOFF_MS = 5_000;
// With a destination at its cap, due messages of others behind its backlog are looked for at
// first after MIN and then, while none turns up, ever more rarely up to MAX: finding them costs
// a scan of the due index, and a busy single destination would otherwise pay for it on every
// claim.
const MIN_LOOKAHEAD_BACKOFF_MS = 25;
const MAX_LOOKAHEAD_BACKOFF_MS = 800;

/**
 * What one claim took and when (a flow-control key counts its starts at that time, so their
 * ACTIVE entries say it too, however long the claim's commit then took), and when to look again
 * if it left slots free.
 */
type ClaimPlan = {
  readonly claimed: ClaimedMessage[];
  readonly claimedAt: number;
  readonly wakeAt?: number;
};

/**
 * Runs due messages through delivery with bounded concurrency. It never polls: it sleeps
 * until the earliest due time in the index, and publishes wake it when they are due sooner.
 * Each claim is a lease in SQLite, so a crash mid-attempt leaves the message to be redelivered
 * after restart. A claim rides the next group commit, with the publishes and settlements of its
 * turn; its attempts start once it has committed.
 */
export class DeliveryWorker {
  readonly #options: DeliveryWorkerOptions;
  readonly #shutdown = new AbortController();
  #inFlight = 0;
  readonly #inFlightByOrigin = new Map<string, number>();
  #lookaheadAt = 0;
  #lookaheadBackoffMs = MIN_LOOKAHEAD_BACKOFF_MS;
  #timer: NodeJS.Timeout | undefined;
  #wakeAt = Number.POSITIVE_INFINITY;
  /** A claim waits for its commit to run: it will see every slot freed until then. */
  #claimQueued = false;
  /** The claim that ran or waits to, until its attempts are started. */
  #claiming: Promise<void> | undefined;
  /** Slots freed after the claim in progress ran: claim again once it is done. */
  #pumpAgain = false;
  #stopping = false;
  #drained: (() => void) | undefined;

  constructor(options: DeliveryWorkerOptions) {
    this.#options = options;
    // Every attempt in flight listens to the shutdown signal; that many is expected, not a leak.
    setMaxListeners(options.concurrency + 1, this.#shutdown.signal);
  }

  /** Takes back leases left by a crashed process, then starts delivering. */
  start(): void {
    const recovered = this.#options.store.releaseAll();
    if (recovered > 0)
      this.#options.logger.warn('recovered in-flight messages from a previous run', { recovered });
    this.#pump();
  }

  /** Tells the worker a message is due at `dueAt`; cheap enough to call on every publish. */
  notify(dueAt: number): void {
    if (this.#stopping) return;
    if (dueAt <= this.#options.clock.now()) this.#pump();
    else this.#wakeUpAt(dueAt);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Stops claiming, lets in-flight attempts finish for up to `graceMs`, then aborts the rest;
   * aborted attempts are released uncounted and run again after the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    // A claim still committing gives back what it took rather than starting it.
    await this.#claiming;
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
      if (this.#inFlight === 0) resolve();
    });
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      graceTimer = setTimeout(() => resolve('timeout'), graceMs);
    });
    if ((await Promise.race([drained, graceOver])) === 'timeout') {
      this.#shutdown.abort();
      await drained;
    }
    clearTimeout(graceTimer);
  }

  #wakeUpAt(dueAt: number): void {
    if (dueAt >= this.#wakeAt) return;
    clearTimeout(this.#timer);
    this.#wakeAt = dueAt;
    const delay = Math.min(Math.max(dueAt - this.#options.clock.now(), 0), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#wakeAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, delay);
  }

  /**
   * Claims what free slots allow. Cheap to call often: a burst of publishes and finishing
   * attempts in one turn shares a single claim.
   */
  #pump(): void {
    if (this.#stopping || this.#claimQueued) return;
    if (this.#claiming) {
      this.#pumpAgain = true;
      return;
    }
    this.#claimQueued = true;
    this.#claiming = this.#options
      .commit(() => {
        this.#claimQueued = false;
        return this.#claim();
      })
      .then(
        (plan) => this.#startClaimed(plan),
        (error: unknown) => {
          // The store failed (disk full, I/O error): log, and look again later rather than
          // crash the process or spin. Nothing was claimed, so nothing is lost.
          this.#claimQueued = false;
          this.#options.logger.error('could not claim due messages; retrying', {
            error: error instanceof Error ? error.message : String(error),
          });
          this.#wakeUpAt(this.#options.clock.now() + FAULT_BACKOFF_MS);
        },
      )
      .finally(() => {
        this.#claiming = undefined;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#pump();
        }
      });
  }

  #startClaimed({ claimed, claimedAt, wakeAt }: ClaimPlan): void {
    if (this.#stopping) {
      for (const { message } of claimed) this.#options.store.release(message.messageId);
      return;
    }
    for (const claim of claimed) this.#run(claim, claimedAt);
    if (wakeAt !== undefined) this.#wakeUpAt(wakeAt);
  }

  #claim(): ClaimPlan {
    const { store, clock, concurrency, leaseMs } = this.#options;
    const free = concurrency - this.#inFlight;
    const now = clock.now();
    if (free <= 0) return { claimed: [], claimedAt: now }; // a finishing attempt pumps again
    const perDestination = this.#options.concurrencyPerDestination ?? concurrency;
    if (perDestination >= concurrency) {
      const claimed = store.claimDue(now, free, now + leaseMs);
      return {
        claimed,
        claimedAt: now,
        wakeAt: claimed.length < free ? this.#nextDue() : undefined,
      };
    }
    const capped = [...this.#inFlightByOrigin.values()].some((count) => count >= perDestination);
    const lookahead = capped && now >= this.#lookaheadAt;
    const { claimed, passedOver } = store.claimDueWithin(now, free, now + leaseMs, {
      max: perDestination,
      inFlight: this.#inFlightByOrigin,
      lookPastCapped: lookahead,
    });
    if (claimed.length === free) return { claimed, claimedAt: now };
    if (!passedOver) {
      this.#lookaheadBackoffMs = MIN_LOOKAHEAD_BACKOFF_MS;
      return { claimed, claimedAt: now, wakeAt: this.#nextDue() };
    }
    // Due messages wait for a capped destination: its finishing attempts pump again, and the
    // next lookahead finds any other destination's messages queued behind them.
    if (lookahead) {
      this.#lookaheadAt = now + this.#lookaheadBackoffMs;
      this.#lookaheadBackoffMs = Math.min(this.#lookaheadBackoffMs * 2, MAX_LOOKAHEAD_BACKOFF_MS);
    }
    return {
      claimed,
      claimedAt: now,
      wakeAt: Math.max(this.#lookaheadAt, now + MIN_LOOKAHEAD_BACKOFF_MS),
    };
  }

  #nextDue(): number | undefined {
    return this.#options.store.nextDueAt(this.#options.clock.now());
  }

  #run({ message, retried }: ClaimedMessage, claimedAt: number): void {
    const { store, deliver, logger, clock } = this.#options;
    const origin = originOf(message.url);
    this.#inFlightByOrigin.set(origin, (this.#inFlightByOrigin.get(origin) ?? 0) + 1);
    this.#inFlight += 1;
    deliver(message, retried, this.#shutdown.signal, claimedAt)
      .catch((error: unknown) => {
        const aborted = error instanceof AttemptAbortedError;
        if (!aborted) {
          logger.error('delivery attempt could not be completed; it will be retried', {
            messageId: message.messageId,
            error: error instanceof Error ? error.message : String(error),
          });
        }
        try {
          store.release(message.messageId, aborted ? undefined : clock.now() + FAULT_BACKOFF_MS);
        } catch (releaseError) {
          // The store is failing too (busy, disk full): the lease runs out and the message is
          // attempted again then, as after a crash. Never a reason to bring the process down.
          logger.error('could not release a delivery attempt; its lease will expire', {
            messageId: message.messageId,
            error: releaseError instanceof Error ? releaseError.message : String(releaseError),
          });
        }
      })
      .finally(() => {
        this.#inFlight -= 1;
        const left = (this.#inFlightByOrigin.get(origin) ?? 1) - 1;
        if (left === 0) this.#inFlightByOrigin.delete(origin);
        else this.#inFlightByOrigin.set(origin, left);
        if (this.#stopping) {
          if (this.#inFlight === 0) this.#drained?.();
        } else {
          this.#pump();
        }
      });
  }
}
