import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoScheduleStore } from '../adapters/aws/dynamo-schedule-store';
import { DynamoUrlGroupStore } from '../adapters/aws/dynamo-url-group-store';
import { EventBridgeScheduleTrigger } from '../adapters/aws/eventbridge-schedule-trigger';
import { EventBridgeScheduler } from '../adapters/aws/eventbridge-scheduler';
import {
  loadToken,
  SecretsManagerSigningKeyStore,
} from '../adapters/aws/secrets-manager-signing-key-store';
import { createIdGenerator } from '../core/ids';
import { KeyRing } from '../core/key-ring';
import type { ApiRequest, ApiResponse } from '../http/api-types';
import { createApi } from '../http/router';
import type { KeySource } from '../http/routes/key-routes';
import { systemClock } from '../ports/clock';
import type { AwsConfig } from './aws-config';
import { KEY_REFRESH_MS } from './aws-config';
import { createFunctionStorage, schedulerOptions } from './function-storage';
import type { RuntimeOptions } from './instance-runtime';
import { instanceRuntime } from './instance-runtime';
import { metricsTelemetry } from './powertools';

/** What the API function runs: the same `/v2` router as the embedded server. */
export type ApiRuntime = (request: ApiRequest) => Promise<ApiResponse>;

export type ApiClients = {
  readonly dynamo: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly scheduler: SchedulerClient;
  readonly secrets: SecretsManagerClient;
};

/**
 * The API function's composition: DynamoDB stores and the SQS delivery queue (aws-storage.ts),
 * EventBridge Scheduler for long delays and cron schedules, Upstash Workflow's run registry, the
 * token and signing keys from Secrets Manager. No HTTP client: the API never delivers.
 */
export async function createApiRuntime(
  config: AwsConfig,
  clients: ApiClients,
  options: RuntimeOptions,
): Promise<ApiRuntime> {
  const { logger, onMetric } = options;
  const clock = options.clock ?? systemClock;
  const scheduling = schedulerOptions(config, clients.scheduler);
  const storage = createFunctionStorage(
    config,
    clients,
    { clock, logger },
    { scheduler: new EventBridgeScheduler(scheduling) },
  );
  const table = { client: clients.dynamo, tableName: config.tableName };
  const token = await loadToken(clients.secrets, config.tokenSecretArn);
  // Only GET /v2/keys and the rotation read the signing keys here: read at their first use, so
  // a cold start reads one secret, not two.
  const keyRing = loadedOnFirstUse(() =>
    KeyRing.load(new SecretsManagerSigningKeyStore(clients.secrets, config.signingKeysSecretArn), {
      refresh: { clock, everyMs: KEY_REFRESH_MS },
    }),
  );
  return createApi({
    store: storage.messages,
    clock,
    ids: createIdGenerator(),
    config: config.core,
    queues: storage.queues,
    flowControl: storage.flowControl,
    urlGroups: new DynamoUrlGroupStore(table),
    schedules: new DynamoScheduleStore(table),
    trigger: new EventBridgeScheduleTrigger(scheduling),
    token,
    keyRing,
    deadLetters: storage.deadLetters,
    events: storage.events,
    pendingMessages: storage.pendingMessages,
    workflowRuns: storage.workflowRuns,
    telemetry: metricsTelemetry(onMetric ?? (() => {})),
    logger,
  });
}

/** The key ring, loaded when first used (a failed load is tried again at the next use). */
function loadedOnFirstUse(load: () => Promise<KeyRing>): KeySource {
  let loading: Promise<KeyRing> | undefined;
  const ring = () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    current: async () => (await ring()).current(),
    rotate: async () => (await ring()).rotate(),
  };
}

/** This instance's runtime (instance-runtime.ts). */
export const apiRuntime = instanceRuntime(
  (): ApiClients => ({
    dynamo: new DynamoDBClient({}),
    sqs: new SQSClient({}),
    scheduler: new SchedulerClient({}),
    secrets: new SecretsManagerClient({}),
  }),
  createApiRuntime,
);
