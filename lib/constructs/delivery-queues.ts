import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Lambda's advice: a queue's visibility timeout is at least 6× its consumer's timeout. */
export const VISIBILITY_TO_FUNCTION_TIMEOUT = 6;
/** SQS's largest message, raised from the 256 KiB default (aws-facts §1). */
export const MAX_MESSAGE_SIZE_BYTES = 1_048_576;
/** SQS's longest retention. */
export const MAX_RETENTION = Duration.days(14);
const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);
const MAX_RECEIVE_COUNT = 1000;

export type DeliveryQueuesProps = {
  /** Timeout of the function consuming the delivery queue; its visibility timeout is 6× this. */
  readonly deliveryFunctionTimeout: Duration;
  /** Timeout of the function consuming the dead-letter queue; its visibility timeout is 6× this. */
  readonly deadLetterFunctionTimeout: Duration;
  /** Receives after which SQS moves a message to the dead-letter queue (1 to 1000). */
  readonly maxReceiveCount: number;
  /**
   * How long each queue keeps a message. The dead-letter queue keeps the same: a standard
   * queue's message keeps its original enqueue time when it moves.
   * @default Duration.days(14) - SQS's maximum
   */
  readonly retentionPeriod?: Duration;
};

/**
 * The SQS standard queue deliveries run from, and its dead-letter queue. Both take 1 MiB
 * messages, encrypt with SQS-managed keys and refuse plain HTTP. Delays up to 15 minutes are a
 * per-message `DelaySeconds`; retries are a per-message visibility change.
 */
export class DeliveryQueues extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  /** The delivery queue's default visibility timeout. */
  public readonly visibilityTimeout: Duration;
  /** The dead-letter queue's default visibility timeout. */
  public readonly deadLetterVisibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: DeliveryQueuesProps) {
    super(scope, id);
    const retentionPeriod = props.retentionPeriod ?? MAX_RETENTION;
    this.visibilityTimeout = Duration.seconds(
      props.deliveryFunctionTimeout.toSeconds() * VISIBILITY_TO_FUNCTION_TIMEOUT,
    );
    this.deadLetterVisibilityTimeout = Duration.seconds(
      props.deadLetterFunctionTimeout.toSeconds() * VISIBILITY_TO_FUNCTION_TIMEOUT,
    );
    checkProps(props, retentionPeriod, [this.visibilityTimeout, this.deadLetterVisibilityTimeout]);

    // Setup the dead-letter queue; only the delivery queue may move messages into it.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod,
      visibilityTimeout: this.deadLetterVisibilityTimeout,
      maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    // Setup the delivery queue.
    this.queue = new sqs.Queue(this, 'Queue', {
      retentionPeriod,
      visibilityTimeout: this.visibilityTimeout,
      maxMessageSizeBytes: MAX_MESSAGE_SIZE_BYTES,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}

function checkProps(
  props: DeliveryQueuesProps,
  retentionPeriod: Duration,
  visibilityTimeouts: readonly Duration[],
): void {
  const problems: string[] = [];
  if (
    !Number.isInteger(props.maxReceiveCount) ||
    props.maxReceiveCount < 1 ||
    props.maxReceiveCount > MAX_RECEIVE_COUNT
  ) {
    problems.push(
      `maxReceiveCount is ${props.maxReceiveCount}; use a whole number from 1 to ${MAX_RECEIVE_COUNT}`,
    );
  }
  if (retentionPeriod.toSeconds() < 60 || retentionPeriod.toSeconds() > MAX_RETENTION.toSeconds()) {
    problems.push(
      `retentionPeriod is ${retentionPeriod.toHumanString()}; SQS keeps messages from 60 seconds to 14 days`,
    );
  }
  for (const timeout of visibilityTimeouts) {
    if (timeout.toSeconds() > MAX_VISIBILITY_TIMEOUT.toSeconds()) {
      problems.push(
        `a function timeout of ${timeout.toSeconds() / VISIBILITY_TO_FUNCTION_TIMEOUT}s needs a visibility timeout of ${timeout.toHumanString()}, above SQS's 12 hours; shorten the function timeout`,
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(`Invalid DeliveryQueues props:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
