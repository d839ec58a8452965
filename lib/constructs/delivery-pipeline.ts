import type { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeliveryQueues } from './delivery-queues';
import { VISIBILITY_TO_FUNCTION_TIMEOUT } from './delivery-queues';
import { SqstashFunction } from './sqstash-function';

/** SQS records per invocation; each is one delivery attempt, run in parallel with the others. */
export const DELIVERY_BATCH_SIZE = 10;
/** Lambda's SQS event source: MaximumConcurrency range. */
const MIN_ESM_CONCURRENCY = 2;
const MAX_ESM_CONCURRENCY = 1000;
/** Timeout of the dead-letter function: record one dead letter, enqueue one callback. */
export const DEAD_LETTER_TIMEOUT_SEC = 30;

export type DeliveryPipelineProps = {
  /** The delivery queue and its dead-letter queue; their visibility timeouts must fit. */
  readonly queues: DeliveryQueues;
  /** Environment variables of both functions; names come from `lambdas/aws/env-vars.ts`. */
  readonly environment: Readonly<Record<string, string>>;
  /** Timeout of the delivery function: the longest attempt plus a margin. */
  readonly deliveryTimeout: Duration;
  /** Timeout of the dead-letter function. */
  readonly deadLetterTimeout: Duration;
  /** Most concurrent delivery function instances (2 to 1000). */
  readonly deliveryConcurrency: number;
  /**
   * Most concurrent dead-letter function instances (2 to 1000).
   * @default 2 - dead letters are rare; the failure callbacks they fire are new messages that go
   * through the bounded delivery function anyway
   */
  readonly deadLetterConcurrency?: number;
  /** How long the functions' log groups keep entries. */
  readonly logRetention: logs.RetentionDays;
  /**
   * X-Ray active tracing on both functions.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Memory of the delivery function in MiB. It mostly waits on destinations; 512 MiB gives
   * enough CPU for TLS and signing ten requests at once.
   * @default 512
   */
  readonly deliveryMemorySize?: number;
};

/**
 * The functions behind the queues. The delivery function consumes the delivery queue in batches
 * with partial batch responses and bounded concurrency; it retries a message by changing its
 * visibility timeout and reporting it in `batchItemFailures`. The dead-letter function consumes
 * the dead-letter queue: it records each dead letter and fires its failure callback.
 */
export class DeliveryPipeline extends Construct {
  public readonly deliveryFunction: SqstashFunction;
  public readonly deadLetterFunction: SqstashFunction;

  constructor(scope: Construct, id: string, props: DeliveryPipelineProps) {
    super(scope, id);
    const deadLetterConcurrency = props.deadLetterConcurrency ?? MIN_ESM_CONCURRENCY;
    checkProps(props, deadLetterConcurrency);

    // Setup the delivery function on the delivery queue.
    this.deliveryFunction = new SqstashFunction(this, 'Delivery', {
      entry: 'lambdas/aws/handlers/delivery.ts',
      description: 'sqstash delivery: one HTTP attempt per SQS record',
      timeout: props.deliveryTimeout,
      memorySize: props.deliveryMemorySize ?? 512,
      environment: props.environment,
      logRetention: props.logRetention,
      tracing: props.tracing ?? false,
    });
    this.deliveryFunction.function.addEventSource(
      new SqsEventSource(props.queues.queue, {
        batchSize: DELIVERY_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: props.deliveryConcurrency,
      }),
    );

    // Setup the dead-letter function on the dead-letter queue.
    this.deadLetterFunction = new SqstashFunction(this, 'DeadLetter', {
      entry: 'lambdas/aws/handlers/dead-letter.ts',
      description: 'sqstash dead letters: record the dead letter, fire the failure callback',
      timeout: props.deadLetterTimeout,
      environment: props.environment,
      logRetention: props.logRetention,
      tracing: props.tracing ?? false,
    });
    this.deadLetterFunction.function.addEventSource(
      new SqsEventSource(props.queues.deadLetterQueue, {
        batchSize: DELIVERY_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: deadLetterConcurrency,
      }),
    );
  }
}

function checkProps(props: DeliveryPipelineProps, deadLetterConcurrency: number): void {
  const problems: string[] = [];
  const fits = (visibility: Duration, timeout: Duration) =>
    visibility.toSeconds() >= VISIBILITY_TO_FUNCTION_TIMEOUT * timeout.toSeconds();
  if (!fits(props.queues.visibilityTimeout, props.deliveryTimeout)) {
    problems.push(
      `deliveryTimeout is ${props.deliveryTimeout.toHumanString()}, but the delivery queue's visibility timeout (${props.queues.visibilityTimeout.toHumanString()}) is less than ${VISIBILITY_TO_FUNCTION_TIMEOUT}x that; build the queues from the same timeout`,
    );
  }
  if (!fits(props.queues.deadLetterVisibilityTimeout, props.deadLetterTimeout)) {
    problems.push(
      `deadLetterTimeout is ${props.deadLetterTimeout.toHumanString()}, but the dead-letter queue's visibility timeout (${props.queues.deadLetterVisibilityTimeout.toHumanString()}) is less than ${VISIBILITY_TO_FUNCTION_TIMEOUT}x that; build the queues from the same timeout`,
    );
  }
  for (const [name, value] of [
    ['deliveryConcurrency', props.deliveryConcurrency],
    ['deadLetterConcurrency', deadLetterConcurrency],
  ] as const) {
    if (!Number.isInteger(value) || value < MIN_ESM_CONCURRENCY || value > MAX_ESM_CONCURRENCY) {
      problems.push(
        `${name} is ${value}; Lambda's SQS event source allows ${MIN_ESM_CONCURRENCY} to ${MAX_ESM_CONCURRENCY}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `Invalid DeliveryPipeline props:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}
