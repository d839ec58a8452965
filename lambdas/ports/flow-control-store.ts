import type {
  FlowControlSettings,
  PendingConfiguration,
  RateLimit,
  RateStart,
} from '../core/flow-control-limits';

/**
 * Everything a store keeps about one flow-control key: the core works out its limits, counts and
 * views from this (core/flow-control-limits.ts, core/flow-control-keys.ts).
 */
export type FlowControlKeyRecord = {
  readonly key: string;
  readonly settings: FlowControlSettings;
  /** Attempts of the key started and not yet settled. */
  readonly inFlight: number;
  /** Messages of the key that are due and wait for a slot (the waitlist). */
  readonly waiting: number;
  /** The configurations the key's pending messages carry (waiting, delayed or in flight). */
  readonly configurations: readonly PendingConfiguration[];
  /** The starts its rate may still count, oldest first. */
  readonly starts: readonly RateStart[];
  /** The rate last in force, which the starts were counted against. */
  readonly lastRate?: RateLimit;
};

/** A settings change decided by the core from the key as it is. */
export type FlowControlChange = {
  readonly settings: FlowControlSettings;
  /** Forget the counted starts: the current time begins a new rate period. */
  readonly resetRate?: boolean;
};

/**
 * Where flow-control keys live. A key exists while it has pending messages, settings of its own
 * (paused, pinned) or starts its rate still counts; the runtime's delivery path creates it and
 * counts its attempts as messages come and go, and this port reads it and changes its settings.
 */
export type FlowControlStore = {
  getKey(key: string, nowMs: number): Promise<FlowControlKeyRecord | undefined>;
  /** Every key, by name; with `search`, those whose name contains it (case-insensitive). */
  listKeys(search: string | undefined, nowMs: number): Promise<FlowControlKeyRecord[]>;
  /**
   * Applies `change` to the key as it is when the store applies it (creating the key), atomically,
   * and has the delivery path look at the key again (a resume or a higher pin may start attempts).
   */
  changeKey(
    key: string,
    change: (record: FlowControlKeyRecord) => FlowControlChange,
    nowMs: number,
  ): Promise<void>;
  /** Flow-controlled attempts in flight, over every key. */
  inFlightTotal(): Promise<number>;
};
