import { DynamoDeadLetterStore } from '../../lambdas/adapters/aws/dynamo-dead-letter-store';
import { DynamoDeliveryLedger } from '../../lambdas/adapters/aws/dynamo-delivery-ledger';
import { DynamoEventLog } from '../../lambdas/adapters/aws/dynamo-event-log';
import { DynamoMessageStore } from '../../lambdas/adapters/aws/dynamo-message-store';
import type { DynamoStoreOptions } from '../../lambdas/adapters/aws/dynamo-message-table';
import { DynamoPendingMessageList } from '../../lambdas/adapters/aws/dynamo-pending-message-list';
import { DynamoQueueStore } from '../../lambdas/adapters/aws/dynamo-queue-store';
import type { Dynalite } from '../helpers/dynalite';
import { startDynalite } from '../helpers/dynalite';
import type { StoresUnderTest } from './stores-under-test';

const LEASE_MS = 60_000;

let server: Dynalite | undefined;

/**
 * Starts one dynalite for the calling test file (call it at the top level, before the suites);
 * each `makeDynamoStores` then gets a table of its own.
 */
export function useDynalite(): () => Dynalite {
  beforeAll(async () => {
    server = await startDynalite();
  });
  afterAll(async () => {
    await server?.close();
    server = undefined;
  });
  return () => {
    if (!server) throw new Error('useDynalite() must be called at the top of the test file');
    return server;
  };
}

export type DynamoStores = StoresUnderTest & {
  readonly messages: DynamoMessageStore;
  readonly ledger: DynamoDeliveryLedger;
  readonly queues: DynamoQueueStore;
  readonly options: DynamoStoreOptions;
};

/** The AWS runtime's stores on a fresh table, for the contract suites. */
export async function makeDynamoStores(
  overrides: Partial<DynamoStoreOptions> = {},
): Promise<DynamoStores> {
  if (!server) throw new Error('useDynalite() must be called at the top of the test file');
  const dynalite = server;
  const tableName = await dynalite.createTable();
  const options: DynamoStoreOptions = { client: dynalite.client, tableName, ...overrides };
  const ledger = new DynamoDeliveryLedger(options);
  return {
    options,
    messages: new DynamoMessageStore(options),
    deadLetters: new DynamoDeadLetterStore(options),
    events: new DynamoEventLog(options),
    pending: new DynamoPendingMessageList(options),
    queues: new DynamoQueueStore(options),
    ledger,
    startAttempt: async (messageId, nowMs) => {
      const claim = await ledger.claim(messageId, nowMs, nowMs + LEASE_MS);
      if (claim.kind !== 'claimed') {
        throw new Error(`${messageId} could not be claimed at ${nowMs}: ${claim.kind}`);
      }
    },
    abandonAttempt: (messageId) => ledger.release(messageId),
    cleanup: () => dynalite.deleteTable(tableName),
  };
}
