import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoScheduleStore } from '../adapters/aws/dynamo-schedule-store';
import { DynamoUrlGroupStore } from '../adapters/aws/dynamo-url-group-store';
import { EventBridgeScheduleTrigger } from '../adapters/aws/eventbridge-schedule-trigger';
import { EventBridgeScheduler } from '../adapters/aws/eventbridge-scheduler';
import { SecretsManagerSigningKeyStore } from '../adapters/aws/secrets-manager-signing-key-store';
import { NodeHttpDeliveryClient } from '../adapters/http/node-http-delivery-client';
import { createIdGenerator } from '../core/ids';
import { KeyRing } from '../core/key-ring';
import type { ScheduleDeps } from '../core/schedules';
import { systemClock } from '../ports/clock';
import type { ApiClients } from './api-runtime';
import type { AwsConfig } from './aws-config';
import { KEY_REFRESH_MS } from './aws-config';
import type { DeliveryBatchDeps } from './delivery-batch';
import { createFunctionStorage, schedulerOptions } from './function-storage';
import type { RuntimeOptions } from './instance-runtime';
import { instanceRuntime } from './instance-runtime';
import { metricsTelemetry } from './powertools';
import { reconcile } from './reconcile';

export type DeliveryClients = ApiClients;

/**
 * The delivery function's composition: the stores, the HTTP delivery client, the signing keys
 * (re-read every minute, so a rotation by the API reaches it), cron schedules for their ticks,
 * Upstash Workflow's run registry, and the reconcile pass.
 */
export async function createDeliveryRuntime(
  config: AwsConfig,
  clients: DeliveryClients,
  options: RuntimeOptions,
): Promise<DeliveryBatchDeps> {
  const { logger, onMetric } = options;
  const clock = options.clock ?? systemClock;
  const scheduling = schedulerOptions(config, clients.scheduler);
  const storage = createFunctionStorage(
    config,
    clients,
    { clock, logger },
    { scheduler: new EventBridgeScheduler(scheduling), pumpInline: true },
  );
  const keyRing = await KeyRing.load(
    new SecretsManagerSigningKeyStore(clients.secrets, config.signingKeysSecretArn),
    { refresh: { clock, everyMs: KEY_REFRESH_MS } },
  );
  const ids = createIdGenerator();
  const telemetry = metricsTelemetry(onMetric ?? (() => {}));
  const table = { client: clients.dynamo, tableName: config.tableName };
  const trigger = new EventBridgeScheduleTrigger(scheduling);
  const schedules: ScheduleDeps = {
    store: storage.messages,
    clock,
    ids,
    config: config.core,
    queues: storage.queues,
    urlGroups: new DynamoUrlGroupStore(table),
    schedules: new DynamoScheduleStore(table),
    trigger,
    telemetry,
    workflowRuns: storage.workflowRuns,
  };
  return {
    delivery: {
      client: new NodeHttpDeliveryClient({
        maxResponseBodyBytes: config.core.maxResponseBodyBytes,
        addressPolicy: config.addressPolicy,
      }),
      clock,
      ids,
      config: config.core,
      signingKeys: () => keyRing.current(),
      telemetry,
      // A run's steps are framed with its history and what they settle applied to the run.
      workflow: { ...schedules, workflowRuns: storage.workflowRuns },
    },
    store: storage.messages,
    router: storage.router,
    flowControl: storage.flowControl,
    sender: storage.sender,
    schedules,
    reconcile: (by) =>
      reconcile(
        {
          schedules: schedules.schedules,
          trigger,
          queues: storage.queues,
          router: storage.router,
          flowControl: storage.flowControl,
          clock,
          logger,
        },
        by,
      ),
    logger,
  };
}

/** This instance's runtime (instance-runtime.ts). */
export const deliveryRuntime = instanceRuntime(
  (): ApiClients => ({
    dynamo: new DynamoDBClient({}),
    sqs: new SQSClient({}),
    scheduler: new SchedulerClient({}),
    secrets: new SecretsManagerClient({}),
  }),
  createDeliveryRuntime,
);
