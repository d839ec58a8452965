import type { CoreConfig } from '../core/config';
import { DEFAULT_CORE_CONFIG } from '../core/config';
import { parseDurationMs } from '../core/durations';
import type { DestinationAddressPolicy } from '../ports/delivery-client';

const SECOND_MS = 1000;
const MAX_RETRIES_CAP = 100;
const MAX_BODY_BYTES_CAP = 100 * 1024 * 1024;
const MAX_GLOBAL_PARALLELISM = 1_000_000;

/** The environment variables for QStash semantics, the same in both runtimes. */
export const CORE_ENV = {
  defaultRetries: 'SQSTASH_DEFAULT_RETRIES',
  maxRetries: 'SQSTASH_MAX_RETRIES',
  backoffCoefficient: 'SQSTASH_BACKOFF_COEFFICIENT',
  maxTimeout: 'SQSTASH_MAX_TIMEOUT',
  dedupWindow: 'SQSTASH_DEDUP_WINDOW',
  maxBodyBytes: 'SQSTASH_MAX_BODY_BYTES',
  workflowInlineStepsBytes: 'SQSTASH_WORKFLOW_INLINE_STEPS_BYTES',
  flowControlGlobalParallelism: 'SQSTASH_FLOW_CONTROL_GLOBAL_PARALLELISM',
} as const;

/**
 * Which destination addresses deliveries may connect to; the same names in both runtimes, with
 * different defaults (the embedded server is for local development, AWS faces the internet).
 */
export const DESTINATION_POLICY_ENV = {
  allowLoopbackDestinations: 'SQSTASH_ALLOW_LOOPBACK_DESTINATIONS',
  allowPrivateDestinations: 'SQSTASH_ALLOW_PRIVATE_DESTINATIONS',
} as const;

/**
 * Reads configuration from an environment-shaped record, collecting every problem (with the
 * value received and what is allowed) so that one error can report them all at start-up.
 */
export class EnvReader {
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #problems: string[] = [];

  constructor(env: Readonly<Record<string, string | undefined>>) {
    this.#env = env;
  }

  /** The trimmed value; an empty one counts as unset. */
  string(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) this.#problems.push(`${name} is required`);
    return value ?? '';
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.#problems.push(`${name}="${value}" must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return parsed;
  }

  positiveNumber(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      this.#problems.push(`${name}="${value}" must be a positive number`);
      return fallback;
    }
    return parsed;
  }

  duration(name: string, fallbackMs: number, minMs: number): number {
    const value = this.string(name);
    if (value === undefined) return fallbackMs;
    try {
      const parsed = parseDurationMs(value, name);
      if (parsed >= minMs) return parsed;
    } catch {
      // reported below, like a value under the minimum
    }
    this.#problems.push(
      `${name}="${value}" must be a duration of at least ${minMs / SECOND_MS}s, such as 30s, 15m, 2h or 90d`,
    );
    return fallbackMs;
  }

  /** `true` or `false`, in any case. */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (lower !== 'true' && lower !== 'false') {
      this.#problems.push(`${name}="${value}" must be true or false`);
      return fallback;
    }
    return lower === 'true';
  }

  /** The destination address policy from DESTINATION_POLICY_ENV over the runtime's `defaults`. */
  addressPolicy(defaults: DestinationAddressPolicy): DestinationAddressPolicy {
    return {
      allowLoopback: this.boolean(
        DESTINATION_POLICY_ENV.allowLoopbackDestinations,
        defaults.allowLoopback,
      ),
      allowPrivate: this.boolean(
        DESTINATION_POLICY_ENV.allowPrivateDestinations,
        defaults.allowPrivate,
      ),
    };
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const match = allowed.find((option) => option.toLowerCase() === value.toLowerCase());
    if (!match) this.#problems.push(`${name}="${value}" must be one of ${allowed.join(', ')}`);
    return match ?? fallback;
  }

  /** Records a problem found by a cross-field rule. */
  problem(message: string): void {
    this.#problems.push(message);
  }

  /** Throws one Error listing every problem found, if any. */
  assertValid(): void {
    if (this.#problems.length > 0) {
      throw new Error(
        `invalid configuration:\n${this.#problems.map((problem) => `  - ${problem}`).join('\n')}`,
      );
    }
  }

  /** QStash semantics from CORE_ENV over `defaults`. */
  coreConfig(defaults: CoreConfig = DEFAULT_CORE_CONFIG): CoreConfig {
    const maxRetries = this.integer(CORE_ENV.maxRetries, defaults.maxRetries, 0, MAX_RETRIES_CAP);
    return {
      ...defaults,
      maxRetries,
      defaultRetries: this.integer(
        CORE_ENV.defaultRetries,
        Math.min(defaults.defaultRetries, maxRetries),
        0,
        maxRetries,
      ),
      backoffCoefficient: this.positiveNumber(
        CORE_ENV.backoffCoefficient,
        defaults.backoffCoefficient,
      ),
      maxTimeoutMs: this.duration(CORE_ENV.maxTimeout, defaults.maxTimeoutMs, SECOND_MS),
      dedupWindowMs: this.duration(CORE_ENV.dedupWindow, defaults.dedupWindowMs, SECOND_MS),
      maxBodyBytes: this.integer(
        CORE_ENV.maxBodyBytes,
        defaults.maxBodyBytes,
        1,
        MAX_BODY_BYTES_CAP,
      ),
      workflowInlineStepsBytes: this.integer(
        CORE_ENV.workflowInlineStepsBytes,
        defaults.workflowInlineStepsBytes,
        0,
        MAX_BODY_BYTES_CAP,
      ),
      // Unset keeps the default: no cap beyond the runtime's own delivery concurrency.
      ...(this.string(CORE_ENV.flowControlGlobalParallelism) !== undefined && {
        flowControlGlobalParallelism: this.integer(
          CORE_ENV.flowControlGlobalParallelism,
          1,
          1,
          MAX_GLOBAL_PARALLELISM,
        ),
      }),
    };
  }
}
