/**
 * What the cost run (cost-run.ts, its own process) reports, and the assumptions it runs with;
 * apart from cost-run.ts so that importing them does not start a run.
 */

/** Memory sizes of the functions (lib/constructs/api.ts, delivery-pipeline.ts defaults). */
export const MEMORY_MB = { api: 256, delivery: 512, deadLetter: 256 } as const;

/** Assumed in-region latencies (ms) for the duration model; stated in the report. */
export const LATENCY_MS = {
  'DynamoDB:GetItem': 5,
  'DynamoDB:Query': 6,
  'DynamoDB:BatchGetItem': 7,
  'DynamoDB:PutItem': 6,
  'DynamoDB:UpdateItem': 6,
  'DynamoDB:DeleteItem': 6,
  'DynamoDB:BatchWriteItem': 8,
  'DynamoDB:TransactWriteItems': 12,
  SQS: 8,
  Scheduler: 25,
  SecretsManager: 25,
  destination: 100,
} as const;

/** What one function did over a scenario. */
export type PhaseCounts = {
  readonly invocations: number;
  readonly calls: Record<string, { calls: number; wru: number; rru: number }>;
  /** DynamoDB writes by the kind of item written. */
  readonly itemWrites: Record<string, { writes: number; wru: number }>;
  /** SQS requests as billed: one per started 64 KB of payload. */
  readonly sqsBilledRequests: number;
  /** What the function printed (Powertools logs and EMF metrics). */
  readonly logBytes: number;
  readonly logEvents: number;
};

export type TimingStats = {
  readonly invocations: number;
  readonly meanWallMs: number;
  readonly meanCpuMs: number;
};

/** The scenarios the cost run measures (cost-run.ts, SCENARIOS). */
export const SCENARIO_NAMES = [
  'base',
  'batched',
  'retry',
  'delayed',
  'dedup',
  'fifo',
  'flowControl',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One scenario: N messages published, delivered, and everything the functions did for them. */
export type ScenarioRun = {
  readonly name: ScenarioName;
  readonly description: string;
  readonly messages: number;
  readonly api: PhaseCounts;
  readonly delivery: PhaseCounts;
  /** EventBridge Scheduler invocations (one-time schedules firing). */
  readonly schedulerInvocations: number;
  readonly delivered: number;
  readonly destinationRequests: number;
  readonly destinationBytes: number;
  /** API responses' bodies, which leave AWS as data transfer. */
  readonly publishResponseBodyBytes: number;
  /** A second, smaller pass with every call held to its assumed latency. */
  readonly timing: { readonly api: TimingStats; readonly delivery: TimingStats };
};

export type CostRun = {
  readonly scenarios: Record<ScenarioName, ScenarioRun>;
  readonly latencyMs: typeof LATENCY_MS;
};
