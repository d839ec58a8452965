import type { StackProps } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';

/** Log levels Powertools Logger accepts in `POWERTOOLS_LOG_LEVEL`. */
export const LOG_LEVELS = [
  'TRACE',
  'DEBUG',
  'INFO',
  'WARN',
  'ERROR',
  'CRITICAL',
  'SILENT',
] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How publishers reach the API function. */
export const FRONT_DOORS = ['httpApi', 'functionUrl'] as const;
export type FrontDoor = (typeof FRONT_DOORS)[number];

/** Whether every message is recorded when published, or only those SQS cannot carry alone. */
export const VISIBILITIES = ['eventual', 'immediate'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/**
 * The operator-facing settings of an sqstash deployment. Each one can be given as a typed stack
 * prop or as CDK context (`cdk.json` or `cdk deploy -c sqstash:maxRetries=8`); a prop wins over
 * context, context wins over the default. Durations in context are QStash-style strings (`90s`,
 * `5m`, `14d`) or a number of seconds.
 */
export type SqstashSettings = {
  /**
   * How long messages' records, logs and dead letters are kept in DynamoDB after they stop
   * mattering (the items' TTL).
   * @default Duration.days(14) - as long as SQS keeps an undelivered message
   */
  readonly retention?: Duration;
  /**
   * How publishers reach the API function: an API Gateway HTTP API (`httpApi`), or a Lambda
   * Function URL (`functionUrl`), which costs nothing per request but has no custom domain, no
   * WAF, no throttling and takes requests up to 6 MB instead of 10 MB (README, "Front door").
   * @default 'httpApi'
   */
  readonly frontDoor?: FrontDoor;
  /**
   * `eventual`: a message SQS can carry alone (due within 15 minutes, outside a FIFO queue) is
   * written to DynamoDB only with its first outcome, so `messages.get`, cancels and `/v2/events`
   * see it from then on. `immediate`: every message is recorded when published, and seen at
   * once, for about 3 more DynamoDB writes per message (README, "What is eventually visible").
   * @default 'eventual'
   */
  readonly visibility?: Visibility;
  /**
   * Largest `Upstash-Retries` a publisher may ask for; larger values are refused with 400.
   * @default 5
   */
  readonly maxRetries?: number;
  /**
   * Retries when a publish carries no `Upstash-Retries`; at most `maxRetries`.
   * @default 3 (or `maxRetries` when that is smaller)
   */
  readonly defaultRetries?: number;
  /**
   * Receives after which SQS moves an entry to the dead-letter queue. An entry is one attempt
   * (a retry is a new entry, and a FIFO message waits outside SQS), so only crashes, timeouts,
   * throttles and faults of the function receive it again; the dead-letter function puts it
   * back in line three times before it gives the message up. 5 to 1000.
   * @default 10
   */
  readonly maxReceiveCount?: number;
  /**
   * Most concurrent delivery function instances (the SQS event source's MaximumConcurrency);
   * each handles a batch of up to 10 messages, so this bounds the HTTP requests sqstash makes
   * at once to `10 * deliveryConcurrency`. 2 to 1000.
   * @default 10
   */
  readonly deliveryConcurrency?: number;
  /**
   * Most flow-controlled attempts in flight at once over every flow-control key
   * (`SQSTASH_FLOW_CONTROL_GLOBAL_PARALLELISM`). Set, every flow-controlled start and settlement
   * also writes one shared item, which bounds flow-controlled traffic to about 250 messages a
   * second in all (README, "Flow control on AWS"). 1 to 1,000,000.
   * @default - no cap beyond `deliveryConcurrency`
   */
  readonly flowControlGlobalParallelism?: number;
  /**
   * Per-attempt HTTP timeout: the default and the largest `Upstash-Timeout` accepted. The
   * delivery function's timeout is this plus `DELIVERY_TIMEOUT_MARGIN`, and Lambda stops at 15
   * minutes, so at most 14 minutes.
   * @default Duration.minutes(5)
   */
  readonly maxAttemptTimeout?: Duration;
  /**
   * Timeout of the API function. API Gateway HTTP APIs give up after 30 s, so at most 30 s
   * there; with a Function URL, at most 15 minutes.
   * @default Duration.seconds(29) - ends before the gateway does, so the function, not the
   * gateway, decides the answer
   */
  readonly apiTimeout?: Duration;
  /**
   * How long a deduplication id or content hash is remembered.
   * @default Duration.days(90) - QStash's window
   */
  readonly dedupWindow?: Duration;
  /**
   * Powertools Logger level in every function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * X-Ray active tracing on every function (Powertools Tracer). Lambda samples a fixed 1
   * request per second plus 5 % (not configurable), which at low traffic means nearly every
   * request, at $5 per million traces: more than the rest of the stack costs per message.
   * @default false - turn on while investigating
   */
  readonly tracing?: boolean;
  /**
   * How long the functions' and the API's CloudWatch log groups keep entries, in days. One of
   * the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Age of the oldest message in the delivery queue at which the alarm fires. Messages delayed
   * up to 15 minutes count from their publish, so keep this well above 15 minutes.
   * @default Duration.minutes(30)
   */
  readonly oldestMessageAgeAlarm?: Duration;
  /**
   * ARN of an existing SNS topic every alarm notifies (alarm and OK).
   * @default - alarms only change state, on the dashboard and in the console
   */
  readonly alarmTopicArn?: string;
};

/** Stack props: the usual `StackProps` plus the sqstash settings. */
export type SqstashStackProps = StackProps & SqstashSettings;

/** The settings with every default applied and validated; what the constructs are built from. */
export type SqstashConfig = Required<
  Omit<SqstashSettings, 'alarmTopicArn' | 'flowControlGlobalParallelism'>
> & {
  readonly alarmTopicArn: string | undefined;
  readonly flowControlGlobalParallelism: number | undefined;
  /** Timeout of the delivery function: `maxAttemptTimeout` plus `DELIVERY_TIMEOUT_MARGIN`. */
  readonly deliveryTimeout: Duration;
};

/** CDK context keys, one per setting. */
export const CONTEXT_KEYS = {
  retention: 'sqstash:retention',
  frontDoor: 'sqstash:frontDoor',
  visibility: 'sqstash:visibility',
  maxRetries: 'sqstash:maxRetries',
  defaultRetries: 'sqstash:defaultRetries',
  maxReceiveCount: 'sqstash:maxReceiveCount',
  deliveryConcurrency: 'sqstash:deliveryConcurrency',
  flowControlGlobalParallelism: 'sqstash:flowControlGlobalParallelism',
  maxAttemptTimeout: 'sqstash:maxAttemptTimeout',
  apiTimeout: 'sqstash:apiTimeout',
  dedupWindow: 'sqstash:dedupWindow',
  logLevel: 'sqstash:logLevel',
  tracing: 'sqstash:tracing',
  logRetentionDays: 'sqstash:logRetentionDays',
  oldestMessageAgeAlarm: 'sqstash:oldestMessageAgeAlarm',
  alarmTopicArn: 'sqstash:alarmTopicArn',
} as const satisfies Record<keyof SqstashSettings, string>;

/**
 * Time the delivery function has beyond one attempt's HTTP timeout, for claiming the message,
 * recording the outcome and enqueueing callbacks. Records of a batch are attempted in parallel,
 * so one attempt timeout (not ten) bounds the batch.
 */
export const DELIVERY_TIMEOUT_MARGIN = Duration.minutes(1);

/** Lambda's hard limit on a function's timeout. */
const LAMBDA_MAX_TIMEOUT = Duration.minutes(15);
/** API Gateway HTTP API's integration timeout, which cannot be raised. */
const HTTP_API_MAX_TIMEOUT = Duration.seconds(30);
/** Lambda's SQS event source: MaximumConcurrency range. */
const MIN_ESM_CONCURRENCY = 2;
const MAX_ESM_CONCURRENCY = 1000;
/** SQS redrive policy: maxReceiveCount range, at least AWS's advice of 5 for Lambda consumers. */
const MIN_RECEIVE_COUNT = 5;
const MAX_RECEIVE_COUNT = 1000;
/** The same retry cap the embedded runtime allows (lambdas/embedded/config.ts). */
const MAX_RETRIES_LIMIT = 100;
/** Values AWS::Logs::LogGroup accepts for RetentionInDays. */
/** The largest global flow-control parallelism (as the functions read it, env-reader.ts). */
const MAX_GLOBAL_PARALLELISM = 1_000_000;
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export const SQSTASH_DEFAULTS = {
  retention: Duration.days(14),
  frontDoor: 'httpApi',
  visibility: 'eventual',
  maxReceiveCount: 10,
  maxRetries: 5,
  defaultRetries: 3,
  deliveryConcurrency: 10,
  maxAttemptTimeout: Duration.minutes(5),
  apiTimeout: Duration.seconds(29),
  dedupWindow: Duration.days(90),
  logLevel: 'INFO',
  tracing: false,
  logRetentionDays: 30,
  oldestMessageAgeAlarm: Duration.minutes(30),
} as const satisfies Partial<Record<keyof SqstashSettings, unknown>>;

/** Reads one context value; `node.tryGetContext` in a construct. */
export type ContextReader = (key: string) => unknown;

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const SECONDS_PER = { d: 86_400, h: 3_600, m: 60, s: 1 } as const;

/**
 * Merges props over context over defaults and validates the result, reporting every problem in
 * one Error (one line each, with the value received and what is allowed).
 */
export function resolveSqstashConfig(
  props: SqstashSettings,
  readContext: ContextReader,
): SqstashConfig {
  const problems: string[] = [];
  const source = (key: keyof SqstashSettings) =>
    props[key] !== undefined ? `prop ${key}` : `context ${CONTEXT_KEYS[key]}`;
  const raw = (key: keyof SqstashSettings): unknown => props[key] ?? readContext(CONTEXT_KEYS[key]);

  const integer = (key: keyof SqstashSettings, fallback: number): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof parsed === 'number' && Number.isInteger(parsed)) return parsed;
    problems.push(`${source(key)}: ${JSON.stringify(value)} is not a whole number`);
    return fallback;
  };
  const duration = (key: keyof SqstashSettings, fallback: Duration): Duration => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (value instanceof Duration) return value;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
      return Duration.seconds(value);
    }
    const seconds = typeof value === 'string' ? parseDurationSeconds(value) : undefined;
    if (seconds !== undefined) return Duration.seconds(seconds);
    problems.push(
      `${source(key)}: ${JSON.stringify(value)} is not a duration; use whole units such as 90s, 5m, 2h or 14d, or a number of seconds`,
    );
    return fallback;
  };
  const oneOf = <T extends string>(
    key: keyof SqstashSettings,
    allowed: readonly T[],
    fallback: T,
  ): T => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const match = allowed.find((option) => option === value);
    if (match === undefined) {
      problems.push(`${source(key)}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
    }
    return match ?? fallback;
  };
  const boolean = (key: keyof SqstashSettings, fallback: boolean): boolean => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    problems.push(`${source(key)}: ${JSON.stringify(value)} is not true or false`);
    return fallback;
  };
  const inRange = (key: keyof SqstashSettings, value: number, min: number, max: number) => {
    if (value < min || value > max) {
      problems.push(`${source(key)}: ${value} is outside ${min}..${max}`);
    }
  };
  const durationInRange = (
    key: keyof SqstashSettings,
    value: Duration,
    min: Duration,
    max: Duration,
  ) => {
    if (value.toSeconds() < min.toSeconds() || value.toSeconds() > max.toSeconds()) {
      problems.push(
        `${source(key)}: ${value.toHumanString()} is outside ${min.toHumanString()}..${max.toHumanString()}`,
      );
    }
  };

  const maxRetries = integer('maxRetries', SQSTASH_DEFAULTS.maxRetries);
  inRange('maxRetries', maxRetries, 0, MAX_RETRIES_LIMIT);
  const defaultRetries = integer(
    'defaultRetries',
    Math.min(SQSTASH_DEFAULTS.defaultRetries, maxRetries),
  );
  inRange('defaultRetries', defaultRetries, 0, maxRetries);
  const maxReceiveCount = integer('maxReceiveCount', SQSTASH_DEFAULTS.maxReceiveCount);
  inRange('maxReceiveCount', maxReceiveCount, MIN_RECEIVE_COUNT, MAX_RECEIVE_COUNT);
  const deliveryConcurrency = integer('deliveryConcurrency', SQSTASH_DEFAULTS.deliveryConcurrency);
  inRange('deliveryConcurrency', deliveryConcurrency, MIN_ESM_CONCURRENCY, MAX_ESM_CONCURRENCY);
  const flowControlGlobalParallelism =
    raw('flowControlGlobalParallelism') === undefined
      ? undefined
      : integer('flowControlGlobalParallelism', 1);
  if (flowControlGlobalParallelism !== undefined) {
    inRange(
      'flowControlGlobalParallelism',
      flowControlGlobalParallelism,
      1,
      MAX_GLOBAL_PARALLELISM,
    );
  }

  const maxAttemptTimeout = duration('maxAttemptTimeout', SQSTASH_DEFAULTS.maxAttemptTimeout);
  durationInRange(
    'maxAttemptTimeout',
    maxAttemptTimeout,
    Duration.seconds(1),
    LAMBDA_MAX_TIMEOUT.minus(DELIVERY_TIMEOUT_MARGIN),
  );
  const frontDoor = oneOf('frontDoor', FRONT_DOORS, SQSTASH_DEFAULTS.frontDoor);
  const visibility = oneOf('visibility', VISIBILITIES, SQSTASH_DEFAULTS.visibility);
  const apiTimeout = duration('apiTimeout', SQSTASH_DEFAULTS.apiTimeout);
  durationInRange(
    'apiTimeout',
    apiTimeout,
    Duration.seconds(1),
    frontDoor === 'httpApi' ? HTTP_API_MAX_TIMEOUT : LAMBDA_MAX_TIMEOUT,
  );
  const retention = duration('retention', SQSTASH_DEFAULTS.retention);
  durationInRange('retention', retention, Duration.days(1), Duration.days(3650));
  const dedupWindow = duration('dedupWindow', SQSTASH_DEFAULTS.dedupWindow);
  durationInRange('dedupWindow', dedupWindow, Duration.seconds(1), Duration.days(3650));
  const oldestMessageAgeAlarm = duration(
    'oldestMessageAgeAlarm',
    SQSTASH_DEFAULTS.oldestMessageAgeAlarm,
  );
  durationInRange(
    'oldestMessageAgeAlarm',
    oldestMessageAgeAlarm,
    Duration.minutes(1),
    Duration.days(14),
  );

  const logLevelValue = raw('logLevel') ?? SQSTASH_DEFAULTS.logLevel;
  const logLevel = LOG_LEVELS.find(
    (level) => typeof logLevelValue === 'string' && level === logLevelValue.toUpperCase(),
  );
  if (!logLevel) {
    problems.push(
      `${source('logLevel')}: ${JSON.stringify(logLevelValue)} is not one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const tracing = boolean('tracing', SQSTASH_DEFAULTS.tracing);
  const logRetentionDays = integer('logRetentionDays', SQSTASH_DEFAULTS.logRetentionDays);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    problems.push(
      `${source('logRetentionDays')}: ${logRetentionDays} is not one of ${LOG_RETENTION_DAYS.join(', ')}`,
    );
  }
  const alarmTopicArnValue = raw('alarmTopicArn');
  if (
    alarmTopicArnValue !== undefined &&
    (typeof alarmTopicArnValue !== 'string' || !alarmTopicArnValue.startsWith('arn:'))
  ) {
    problems.push(
      `${source('alarmTopicArn')}: ${JSON.stringify(alarmTopicArnValue)} is not an SNS topic ARN`,
    );
  }

  if (problems.length > 0) {
    throw new Error(
      `Invalid sqstash configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  }
  return {
    retention,
    frontDoor,
    visibility,
    maxRetries,
    defaultRetries,
    maxReceiveCount,
    deliveryConcurrency,
    flowControlGlobalParallelism,
    maxAttemptTimeout,
    apiTimeout,
    dedupWindow,
    logLevel: logLevel ?? SQSTASH_DEFAULTS.logLevel,
    tracing,
    logRetentionDays,
    oldestMessageAgeAlarm,
    alarmTopicArn: alarmTopicArnValue as string | undefined,
    deliveryTimeout: maxAttemptTimeout.plus(DELIVERY_TIMEOUT_MARGIN),
  };
}

/** `14d`, `1d12h`, `90s` or plain digits (seconds) to seconds; undefined when malformed. */
function parseDurationSeconds(value: string): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const match = DURATION.exec(trimmed);
  if (!match || trimmed === '') return undefined;
  const [, d, h, m, s] = match;
  return (
    Number(d ?? 0) * SECONDS_PER.d +
    Number(h ?? 0) * SECONDS_PER.h +
    Number(m ?? 0) * SECONDS_PER.m +
    Number(s ?? 0) * SECONDS_PER.s
  );
}
