import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDeadLetterStore } from '../adapters/aws/dynamo-dead-letter-store';
import { DynamoDeliveryLedger } from '../adapters/aws/dynamo-delivery-ledger';
import { DynamoEventLog } from '../adapters/aws/dynamo-event-log';
import { DynamoMessageStore } from '../adapters/aws/dynamo-message-store';
import { DynamoPendingMessageList } from '../adapters/aws/dynamo-pending-message-list';
import { DynamoQueueStore } from '../adapters/aws/dynamo-queue-store';
import { DynamoScheduleStore } from '../adapters/aws/dynamo-schedule-store';
import { DynamoUrlGroupStore } from '../adapters/aws/dynamo-url-group-store';
import { EventBridgeScheduleTrigger } from '../adapters/aws/eventbridge-schedule-trigger';
import { EventBridgeScheduler } from '../adapters/aws/eventbridge-scheduler';
import {
  loadToken,
  SecretsManagerSigningKeyStore,
} from '../adapters/aws/secrets-manager-signing-key-store';
import { SqsDeliveryQueue } from '../adapters/aws/sqs-delivery-queue';
import { UndiciDeliveryClient } from '../adapters/http/undici-delivery-client';
import { EnvReader } from '../config/env-reader';
import type { CoreConfig } from '../core/config';
import { createIdGenerator } from '../core/ids';
import { KeyRing } from '../core/key-ring';
import type { ProcessDeliveryDeps } from '../core/process-delivery';
import type { ScheduleDeps } from '../core/schedules';
import type { ApiRequest, ApiResponse } from '../http/api-types';
import { createApi } from '../http/router';
import type { Clock } from '../ports/clock';
import { systemClock } from '../ports/clock';
import type { DestinationAddressPolicy } from '../ports/delivery-client';
import type { Logger } from '../ports/logger';
import type { MessageStore } from '../ports/message-store';
import type { DeadLetterBatchDeps } from './dead-letter-batch';
import type { DeliveryBatchDeps, DeliveryOutcomeKind } from './delivery-batch';
import { AWS_ENV } from './env-vars';

/** Where the AWS runtime's resources are, and its QStash semantics; read once per cold start. */
export type AwsConfig = {
  readonly tableName: string;
  readonly deliveryQueueUrl: string;
  readonly deliveryQueueArn: string;
  readonly scheduleGroupName: string;
  readonly schedulerRoleArn: string;
  readonly tokenSecretArn: string;
  readonly signingKeysSecretArn: string;
  readonly core: CoreConfig;
  /** Which addresses destinations and callbacks may connect to. */
  readonly addressPolicy: DestinationAddressPolicy;
};

/**
 * A Lambda function faces the internet with an IAM role: a destination on a private network,
 * the Lambda runtime API on 127.0.0.1, or the metadata address is refused unless allowed.
 */
export const AWS_DEFAULT_ADDRESS_POLICY: DestinationAddressPolicy = {
  allowLoopback: false,
  allowPrivate: false,
};

export function loadAwsConfig(env: Readonly<Record<string, string | undefined>>): AwsConfig {
  const read = new EnvReader(env);
  const config: AwsConfig = {
    tableName: read.required(AWS_ENV.tableName),
    deliveryQueueUrl: read.required(AWS_ENV.deliveryQueueUrl),
    deliveryQueueArn: read.required(AWS_ENV.deliveryQueueArn),
    scheduleGroupName: read.required(AWS_ENV.scheduleGroupName),
    schedulerRoleArn: read.required(AWS_ENV.schedulerRoleArn),
    tokenSecretArn: read.required(AWS_ENV.tokenSecretArn),
    signingKeysSecretArn: read.required(AWS_ENV.signingKeysSecretArn),
    core: read.coreConfig(),
    addressPolicy: read.addressPolicy(AWS_DEFAULT_ADDRESS_POLICY),
  };
  read.assertValid();
  return config;
}

export type AwsClients = {
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly scheduler: SchedulerClient;
  readonly secrets: SecretsManagerClient;
};

/** What each Lambda handler runs: the same API and delivery core as the embedded server. */
export type AwsRuntime = {
  readonly api: (request: ApiRequest) => Promise<ApiResponse>;
  readonly deliveryBatch: DeliveryBatchDeps;
  readonly deadLetterBatch: DeadLetterBatchDeps;
};

export type AwsRuntimeOptions = {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Counts publishes and attempt outcomes for the dashboard. */
  readonly onMetric?: (metric: 'Published' | 'Delivered' | 'Retried' | 'Failed') => void;
};

// A claim outlives the longest attempt (plus signing and settling); an entry whose function
// died comes back after the queue's visibility timeout (6x the function's), the lease expired.
const LEASE_MARGIN_MS = 60_000;
/** How soon every function signs with keys another function rotated. */
const KEY_REFRESH_MS = 60_000;
const OUTCOME_METRICS = {
  delivered: 'Delivered',
  retry: 'Retried',
  failed: 'Failed',
  canceled: undefined,
} as const satisfies Record<DeliveryOutcomeKind, string | undefined>;

/**
 * The AWS runtime's composition root: DynamoDB stores, the SQS delivery queue (EventBridge
 * Scheduler past 15 minutes), one EventBridge schedule per cron schedule, whose ticks come
 * through the delivery queue, Secrets Manager for the token and signing keys. Everything is
 * injected, so tests run it against dynalite and mocked SQS/Scheduler/Secrets clients.
 */
export async function createAwsRuntime(
  config: AwsConfig,
  clients: AwsClients,
  options: AwsRuntimeOptions,
): Promise<AwsRuntime> {
  const { logger, onMetric } = options;
  const clock = options.clock ?? systemClock;
  const table = { client: clients.dynamo, tableName: config.tableName };
  const [token, keyRing] = await Promise.all([
    loadToken(clients.secrets, config.tokenSecretArn),
    // Another instance (the API function) may rotate: re-read the secret every minute.
    KeyRing.load(new SecretsManagerSigningKeyStore(clients.secrets, config.signingKeysSecretArn), {
      refresh: { clock, everyMs: KEY_REFRESH_MS },
    }),
  ]);
  const store = countPublishes(new DynamoMessageStore(table), onMetric);
  const schedulerOptions = {
    client: clients.scheduler,
    groupName: config.scheduleGroupName,
    deliveryQueueArn: config.deliveryQueueArn,
    roleArn: config.schedulerRoleArn,
  };
  const queue = new SqsDeliveryQueue({
    sqs: clients.sqs,
    queueUrl: config.deliveryQueueUrl,
    clock,
    scheduler: new EventBridgeScheduler(schedulerOptions),
  });
  const ids = createIdGenerator();
  const delivery: ProcessDeliveryDeps = {
    client: new UndiciDeliveryClient({
      maxResponseBodyBytes: config.core.maxResponseBodyBytes,
      addressPolicy: config.addressPolicy,
    }),
    clock,
    ids,
    config: config.core,
    signingKeys: () => keyRing.current(),
    store,
    queue,
    logger,
  };
  // What publishing needs, and cron schedules besides: the API creates them, ticks fire them.
  const schedules: ScheduleDeps = {
    store,
    queue,
    clock,
    ids,
    config: config.core,
    queues: new DynamoQueueStore(table),
    urlGroups: new DynamoUrlGroupStore(table),
    schedules: new DynamoScheduleStore(table),
    trigger: new EventBridgeScheduleTrigger(schedulerOptions),
  };
  const ledger = new DynamoDeliveryLedger(table);
  const leaseMs = config.core.maxTimeoutMs + LEASE_MARGIN_MS;
  const api = createApi({
    ...schedules,
    token,
    keyRing,
    deadLetters: new DynamoDeadLetterStore(table),
    events: new DynamoEventLog(table),
    pendingMessages: new DynamoPendingMessageList(table),
    logger,
  });
  return {
    api,
    deliveryBatch: {
      delivery,
      schedules,
      ledger,
      logger,
      leaseMs,
      postpone: async (receiptHandle, delaySec) => {
        await clients.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: config.deliveryQueueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: delaySec,
          }),
        );
      },
      onOutcome: (kind) => {
        const metric = OUTCOME_METRICS[kind];
        if (metric) onMetric?.(metric);
      },
    },
    deadLetterBatch: { delivery, ledger, logger, leaseMs, onFailed: () => onMetric?.('Failed') },
  };
}

/** The store, counting each message a publish stores (a duplicate stores none). */
function countPublishes(
  store: MessageStore,
  onMetric: AwsRuntimeOptions['onMetric'],
): MessageStore {
  if (!onMetric) return store;
  const insertMessage: MessageStore['insertMessage'] = async (...args) => {
    const result = await store.insertMessage(...args);
    if (result.inserted) onMetric('Published');
    return result;
  };
  const insertMessages: MessageStore['insertMessages'] = async (...args) => {
    const results = await store.insertMessages(...args);
    for (const result of results) if (result.inserted) onMetric('Published');
    return results;
  };
  // Every other method runs on the store itself, whose private fields a copy would not have.
  return new Proxy(store, {
    get: (target, property) => {
      if (property === 'insertMessage') return insertMessage;
      if (property === 'insertMessages') return insertMessages;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
