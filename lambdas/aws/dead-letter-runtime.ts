import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoUrlGroupStore } from '../adapters/aws/dynamo-url-group-store';
import { createIdGenerator } from '../core/ids';
import { systemClock } from '../ports/clock';
import type { AwsConfig } from './aws-config';
import type { DeadLetterBatchDeps } from './dead-letter-batch';
import { createFunctionStorage } from './function-storage';
import type { RuntimeOptions } from './instance-runtime';
import { instanceRuntime } from './instance-runtime';

export type DeadLetterClients = { readonly dynamo: DynamoDBClient; readonly sqs: SQSClient };

/**
 * The dead-letter function's composition: the stores and the delivery queue, nothing more. It
 * never delivers (no HTTP client, no signing keys) and never schedules (a message it gives up
 * is failed now; its failure callback is due now). A workflow run's step it gives up fails the
 * run (the run registry is in the table).
 */
export function createDeadLetterRuntime(
  config: AwsConfig,
  clients: DeadLetterClients,
  options: RuntimeOptions,
): DeadLetterBatchDeps {
  const clock = options.clock ?? systemClock;
  const storage = createFunctionStorage(
    config,
    clients,
    { clock, logger: options.logger },
    { pumpInline: true },
  );
  const ids = createIdGenerator();
  return {
    delivery: { clock, ids, config: config.core },
    store: storage.messages,
    sender: storage.sender,
    logger: options.logger,
    workflow: {
      store: storage.messages,
      clock,
      ids,
      config: config.core,
      queues: storage.queues,
      urlGroups: new DynamoUrlGroupStore({ client: clients.dynamo, tableName: config.tableName }),
      workflowRuns: storage.workflowRuns,
    },
    onFailed: () => options.onMetric?.('Failed'),
    onItemFailure: () => options.onMetric?.('DeadLetterFailures'),
  };
}

/** This instance's runtime (instance-runtime.ts). */
export const deadLetterRuntime = instanceRuntime(
  (): DeadLetterClients => ({ dynamo: new DynamoDBClient({}), sqs: new SQSClient({}) }),
  createDeadLetterRuntime,
);
