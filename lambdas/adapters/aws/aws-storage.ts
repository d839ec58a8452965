import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../../ports/clock';
import type { Logger } from '../../ports/logger';
import { DedupClaims } from './dedup-claims';
import { DynamoCalls } from './dynamo-calls';
import { DynamoDeadLetterStore } from './dynamo-dead-letter-store';
import { DynamoEventLog, EventIndex } from './dynamo-event-log';
import { DynamoFlowControl } from './dynamo-flow-control';
import { DynamoMessageStore } from './dynamo-message-store';
import { DynamoPendingMessageList } from './dynamo-pending-message-list';
import { DynamoQueueStore } from './dynamo-queue-store';
import { DynamoWorkflowRunStore } from './dynamo-workflow-run-store';
import type { EventBridgeScheduler } from './eventbridge-scheduler';
import type { Visibility } from './message-router';
import { MessageRouter } from './message-router';
import { PendingIndex } from './pending-index';
import { SqsSender } from './sqs-sender';

/** Where the AWS runtime keeps messages, and how it hands them to SQS and Scheduler. */
export type AwsStorageOptions = {
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly sqs: SQSClient;
  /** The delivery queue (`SQSTASH_DELIVERY_QUEUE_URL`). */
  readonly queueUrl: string;
  /** For due times past 15 minutes; omitted where none can occur (the dead-letter function). */
  readonly scheduler?: Pick<EventBridgeScheduler, 'scheduleWake'>;
  readonly clock: Clock;
  /** How long records, logs and dead letters are kept after they stop mattering. */
  readonly retentionMs: number;
  /** @default 'eventual' */
  readonly visibility?: Visibility;
  /** Longer than the calling function can run (DedupClaims.provisionalMs). */
  readonly claimProvisionalMs: number;
  /** How long after they are recorded events appear in listings by time. @default 5000 */
  readonly listingWatermarkMs?: number;
  /**
   * Whether a freed FIFO place starts the next message at once (a function consuming the
   * delivery queue) or through a `{"pump"}` entry (the API). @default false
   */
  readonly pumpInline?: boolean;
  /** `SQSTASH_FLOW_CONTROL_GLOBAL_PARALLELISM`: flow-controlled attempts in flight over every key. */
  readonly flowControlGlobalParallelism?: number;
  readonly logger?: Logger;
};

/** The stores the AWS functions use, wired to one table and one delivery queue. */
export type AwsStorage = {
  readonly calls: DynamoCalls;
  readonly sender: SqsSender;
  readonly router: MessageRouter;
  readonly messages: DynamoMessageStore;
  readonly deadLetters: DynamoDeadLetterStore;
  readonly events: DynamoEventLog;
  readonly queues: DynamoQueueStore;
  readonly flowControl: DynamoFlowControl;
  readonly pendingMessages: DynamoPendingMessageList;
  readonly workflowRuns: DynamoWorkflowRunStore;
};

export function createAwsStorage(options: AwsStorageOptions): AwsStorage {
  const { clock } = options;
  const calls = new DynamoCalls({ client: options.dynamo, tableName: options.tableName });
  const sender = new SqsSender({ sqs: options.sqs, queueUrl: options.queueUrl, clock });
  const eventIndex = new EventIndex(calls);
  const pending = new PendingIndex(calls);
  // The stores refer to each other (a deleted queue cancels its messages, a DLQ retry
  // publishes): each reaches the others through these, once all are built.
  let messages: DynamoMessageStore | undefined;
  let router: MessageRouter | undefined;
  const queues = new DynamoQueueStore(calls, {
    wake: (queueName, delayMs) => router!.wakeQueue(queueName, delayMs),
    cancelWaiting: async (messageIds, nowMs) => {
      if (messageIds.length > 0) await messages!.cancelMessages({ messageIds }, nowMs);
    },
  });
  router = new MessageRouter({
    calls,
    sender,
    ...(options.scheduler && { scheduler: options.scheduler }),
    queues,
    flowControl: () => flowControl,
    events: eventIndex,
    pending,
    clock,
    retentionMs: options.retentionMs,
    visibility: options.visibility ?? 'eventual',
    ...(options.logger && { logger: options.logger }),
  });
  const flowControl = new DynamoFlowControl({
    calls,
    clock,
    retentionMs: options.retentionMs,
    ...(options.flowControlGlobalParallelism !== undefined && {
      globalParallelism: options.flowControlGlobalParallelism,
    }),
    sendAttempts: (entries) =>
      router!.send(entries.map((entry) => ({ entry, dueAt: clock.now() }))),
    sendTimer: (key, dueAt) => router!.wakeFlowKey(key, dueAt),
  });
  const deadLetters = new DynamoDeadLetterStore(calls, (replacements, nowMs) =>
    messages!.insertMessages(replacements, nowMs),
  );
  messages = new DynamoMessageStore({
    pumpInline: options.pumpInline ?? false,
    calls,
    router,
    claims: new DedupClaims(calls, {
      scope: 'DEDUP',
      holderAttribute: 'messageId',
      provisionalMs: options.claimProvisionalMs,
    }),
    events: eventIndex,
    deadLetters,
    queues,
    flowControl,
    pending,
    clock,
    commitWindowMs: options.claimProvisionalMs,
  });
  const events = new DynamoEventLog(calls, eventIndex, {
    clock,
    ...(options.listingWatermarkMs !== undefined && { watermarkMs: options.listingWatermarkMs }),
  });
  const pendingMessages = new DynamoPendingMessageList({ calls, index: pending, queues, clock });
  const workflowRuns = new DynamoWorkflowRunStore(calls, {
    clock,
    retentionMs: options.retentionMs,
  });
  return {
    calls,
    sender,
    router,
    messages,
    deadLetters,
    events,
    queues,
    flowControl,
    pendingMessages,
    workflowRuns,
  };
}
