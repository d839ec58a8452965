/**
 * What limits a flow-control key, and whether an attempt of it may start now: the semantics
 * every runtime shares, as pure functions over what a store keeps per key (its settings, the
 * configurations its pending messages carry, its attempts in flight and its recent starts).
 *
 * - **Highest applies.** Each message keeps the configuration it was published with. The key's
 *   parallelism is the highest any pending (waiting or in-flight) message asks for, and its rate
 *   the one with the highest rate per period (on a tie, the larger burst); so a new configuration
 *   takes over as the older messages drain (QStash's flow-control docs). A message that sets only
 *   one of the two has no say in the other; a key none of whose messages sets one is unlimited in it.
 * - **Pinned** values override every message's, each field on its own.
 * - **Unpinned** values carry on until a message published after the unpin brings a different
 *   one (QStash: "delivery initially continues using the last pinned configuration").
 * - **Rate** is a sliding window: at most `max` attempts start in any `period`, i.e. an attempt
 *   may start at `t` only if fewer than `max` started in `(t - period, t]`. Starts are kept with
 *   their time, so the limit holds exactly across windows and restarts (a fixed window would let
 *   `2 * max` start around its boundary).
 * - **Parallelism** counts attempts from their start until they are settled.
 * - **Paused** keys start nothing; their rate window keeps running and its count is kept.
 */

export type RateLimit = { readonly max: number; readonly periodMs: number };

/** A pinned or carried-over value and, for a carried one, when the unpin happened. */
type Carried<T> = { readonly value: T; readonly since: number };

/** What the management API sets on a key; everything else about it comes from its messages. */
export type FlowControlSettings = {
  readonly paused?: boolean;
  readonly pinnedParallelism?: number;
  readonly pinnedRate?: RateLimit;
  readonly carriedParallelism?: Carried<number>;
  readonly carriedRate?: Carried<RateLimit>;
};

/** One configuration the key's pending messages carry, and how many carry it. */
export type PendingConfiguration = {
  readonly parallelism?: number;
  readonly rate?: RateLimit;
  readonly pending: number;
  /** When the newest message with this configuration was created. */
  readonly newestCreatedAt: number;
};

/** Attempts of a key started at one instant (a claim starts several at once). */
export type RateStart = { readonly at: number; readonly count: number };

/** The limits in force on a key; absent means unlimited. */
export type KeyLimits = { readonly parallelism?: number; readonly rate?: RateLimit };

export function isDefaultSettings(settings: FlowControlSettings): boolean {
  return (
    !settings.paused &&
    settings.pinnedParallelism === undefined &&
    settings.pinnedRate === undefined &&
    settings.carriedParallelism === undefined &&
    settings.carriedRate === undefined
  );
}

/**
 * Drops carried-over values a newer message has replaced. A store persists the result, so a
 * value once replaced stays replaced after that message is gone.
 */
export function settleCarriedValues(
  settings: FlowControlSettings,
  configurations: readonly PendingConfiguration[],
): FlowControlSettings {
  const replaced = <T>(carried: Carried<T> | undefined, pick: (c: PendingConfiguration) => T) =>
    carried !== undefined &&
    configurations.some(
      (configuration) =>
        configuration.newestCreatedAt >= carried.since &&
        !sameValue(pick(configuration), carried.value),
    );
  const dropParallelism = replaced(settings.carriedParallelism, (c) => c.parallelism);
  const dropRate = replaced(settings.carriedRate, (c) => c.rate);
  if (!dropParallelism && !dropRate) return settings;
  const { carriedParallelism, carriedRate, ...rest } = settings;
  return {
    ...rest,
    ...(!dropParallelism && carriedParallelism !== undefined && { carriedParallelism }),
    ...(!dropRate && carriedRate !== undefined && { carriedRate }),
  };
}

function sameValue<T>(a: T | undefined, b: T): boolean {
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const x = a as unknown as RateLimit;
    const y = b as unknown as RateLimit;
    return x.max === y.max && x.periodMs === y.periodMs;
  }
  return a === b;
}

/** The limits in force on a key (call settleCarriedValues on the settings first). */
export function effectiveLimits(
  settings: FlowControlSettings,
  configurations: readonly PendingConfiguration[],
): KeyLimits {
  const parallelism =
    settings.pinnedParallelism ??
    settings.carriedParallelism?.value ??
    highest(configurations.map((c) => c.parallelism));
  const rate =
    settings.pinnedRate ??
    settings.carriedRate?.value ??
    fastestRate(configurations.map((c) => c.rate));
  return {
    ...(parallelism !== undefined && { parallelism }),
    ...(rate !== undefined && { rate }),
  };
}

function highest(values: readonly (number | undefined)[]): number | undefined {
  let best: number | undefined;
  for (const value of values)
    if (value !== undefined && (best === undefined || value > best)) best = value;
  return best;
}

/** The rate allowing the most starts per unit of time; on a tie, the one with the larger burst. */
function fastestRate(rates: readonly (RateLimit | undefined)[]): RateLimit | undefined {
  let best: RateLimit | undefined;
  for (const rate of rates) {
    if (rate === undefined) continue;
    // Compared by cross-multiplying, so no rounding decides a tie.
    const faster =
      best === undefined ||
      rate.max * best.periodMs > best.max * rate.periodMs ||
      (rate.max * best.periodMs === best.max * rate.periodMs && rate.max > best.max);
    if (faster) best = rate;
  }
  return best;
}

/** Starts counted against a rate at `nowMs`: those in `(nowMs - period, nowMs]`. */
export function countedStarts(
  starts: readonly RateStart[],
  rate: RateLimit,
  nowMs: number,
): RateStart[] {
  return starts.filter((start) => start.at > nowMs - rate.periodMs && start.at <= nowMs);
}

/**
 * How many attempts the rate lets start at `nowMs`, and, when none, the earliest time one may:
 * once enough of the counted starts have left the window that fewer than `max` remain.
 */
export function rateAllowance(
  starts: readonly RateStart[],
  rate: RateLimit,
  nowMs: number,
): { readonly available: number; readonly freesAt?: number } {
  const counted = countedStarts(starts, rate, nowMs).sort((a, b) => a.at - b.at);
  let total = counted.reduce((sum, start) => sum + start.count, 0);
  if (total < rate.max) return { available: rate.max - total };
  for (const start of counted) {
    total -= start.count;
    if (total < rate.max) return { available: 0, freesAt: start.at + rate.periodMs };
  }
  // Unreachable: once every counted start has left, none remain.
  return { available: 0, freesAt: nowMs + rate.periodMs };
}

/** Why a key may start no attempt now. */
export type Blocked = 'paused' | 'parallelism' | 'rate' | 'global';

export type Admission = {
  /** Attempts that may start now; Infinity when nothing limits the key. */
  readonly allowed: number;
  /** Set when `allowed` is 0. */
  readonly blockedBy?: Blocked;
  /** With `blockedBy: 'rate'`: when the next attempt may start. */
  readonly rateFreesAt?: number;
};

/**
 * How many attempts of a key may start at `nowMs`. `globalAvailable` is what the operator's
 * global parallelism leaves for every flow-controlled attempt together (Infinity when unset).
 * Waiting for a paused key, a parallelism slot or global capacity ends with an event (resume, a
 * settlement); waiting for the rate ends at `rateFreesAt`, so a runtime sleeps until then and
 * never polls.
 */
export function admit(
  input: {
    readonly settings: FlowControlSettings;
    readonly limits: KeyLimits;
    readonly inFlight: number;
    readonly starts: readonly RateStart[];
    readonly globalAvailable: number;
  },
  nowMs: number,
): Admission {
  const { settings, limits, inFlight, starts, globalAvailable } = input;
  if (settings.paused) return { allowed: 0, blockedBy: 'paused' };
  const parallel =
    limits.parallelism === undefined ? Number.POSITIVE_INFINITY : limits.parallelism - inFlight;
  if (parallel <= 0) return { allowed: 0, blockedBy: 'parallelism' };
  let allowed = parallel;
  if (limits.rate !== undefined) {
    const rate = rateAllowance(starts, limits.rate, nowMs);
    if (rate.available === 0) {
      return {
        allowed: 0,
        blockedBy: 'rate',
        ...(rate.freesAt !== undefined && { rateFreesAt: rate.freesAt }),
      };
    }
    allowed = Math.min(allowed, rate.available);
  }
  if (globalAvailable <= 0) return { allowed: 0, blockedBy: 'global' };
  return { allowed: Math.min(allowed, globalAvailable) };
}
