const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;
const MIB = 1024 * 1024;

/**
 * The operator's limits and defaults for QStash semantics. Both runtimes build one from their
 * own configuration source (env vars, CDK context) and hand it to the core; the core never
 * reads the environment itself.
 */
export type CoreConfig = {
  /** Retries when `Upstash-Retries` is absent. @default 3 (seeds: free tier) */
  readonly defaultRetries: number;
  /** Largest `Upstash-Retries` accepted; larger values are refused with 400. @default 5 */
  readonly maxRetries: number;
  /** Coefficient k of the default backoff `min(86400, e^(k*n))` seconds. @default 2 (seeds) */
  readonly backoffCoefficient: number;
  /** Cap on any retry delay (backoff, expression, Retry-After). @default one day */
  readonly maxRetryDelayMs: number;
  /** Per-attempt timeout when `Upstash-Timeout` is absent, and the most it may ask for. @default 15 minutes */
  readonly maxTimeoutMs: number;
  /** Furthest in the future a message may be due (`Upstash-Delay`, `Upstash-Not-Before`). @default 1 year */
  readonly maxDelayMs: number;
  /** How long a deduplication id or content hash is remembered. @default 90 days (seeds) */
  readonly dedupWindowMs: number;
  /** Largest message body accepted. @default 1 MiB */
  readonly maxBodyBytes: number;
  /** Largest destination response body kept for callbacks and dead letters. @default 1 MiB */
  readonly maxResponseBodyBytes: number;
  /**
   * Largest step history a workflow delivery carries in its body; a longer one is sent empty
   * for the SDK to fetch (`LazyFetch`, `GET /v2/workflows/runs/{id}`). @default 1 MiB
   */
  readonly workflowInlineStepsBytes: number;
  /**
   * Most flow-controlled attempts in flight at once over every flow-control key, the operator's
   * cap (`GET /v2/globalParallelism`). @default none
   */
  readonly flowControlGlobalParallelism?: number;
};

export const DEFAULT_CORE_CONFIG: CoreConfig = {
  defaultRetries: 3,
  maxRetries: 5,
  backoffCoefficient: 2,
  maxRetryDelayMs: DAY_MS,
  maxTimeoutMs: 15 * 60 * SECOND_MS,
  maxDelayMs: YEAR_MS,
  dedupWindowMs: 90 * DAY_MS,
  maxBodyBytes: MIB,
  maxResponseBodyBytes: MIB,
  workflowInlineStepsBytes: MIB,
};
