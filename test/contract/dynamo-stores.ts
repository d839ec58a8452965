import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsStorage } from '../../lambdas/adapters/aws/aws-storage';
import { createAwsStorage } from '../../lambdas/adapters/aws/aws-storage';
import { DynamoCalls } from '../../lambdas/adapters/aws/dynamo-calls';
import type { Visibility } from '../../lambdas/adapters/aws/message-router';
import type { AttemptEntry } from '../../lambdas/adapters/aws/sqs-entries';
import { decodeEntry } from '../../lambdas/adapters/aws/sqs-entries';
import type { Clock } from '../../lambdas/ports/clock';
import { systemClock } from '../../lambdas/ports/clock';
import type { Dynalite } from '../helpers/dynalite';
import { startDynalite } from '../helpers/dynalite';
import { FakeSqs } from '../helpers/fake-sqs';
import type { StoresUnderTest } from './stores-under-test';

const DAY_MS = 86_400_000;
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery';

let server: Dynalite | undefined;
const sqsStub = mockClient(SQSClient);

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

export type DynamoStores = StoresUnderTest &
  AwsStorage & {
    readonly client: Dynalite['client'];
    readonly tableName: string;
    readonly sqs: FakeSqs;
    /** Messages handed to EventBridge Scheduler, to wake when due. */
    readonly wakes: { messageId: string; dueAt: number; sentBy?: string }[];
  };

/**
 * The AWS runtime's stores on a fresh table, for the contract suites. They run with every
 * message recorded at publish (`visibility: 'immediate'`), the setting under which the AWS
 * store's visibility is the port's; what the default changes is tested in test/aws. SQS is a
 * fake that keeps what is sent (nothing is delivered).
 */
export async function makeDynamoStores(
  options: {
    readonly visibility?: Visibility;
    readonly watermarkMs?: number;
    readonly clock?: Clock;
  } = {},
): Promise<DynamoStores> {
  if (!server) throw new Error('useDynalite() must be called at the top of the test file');
  const dynalite = server;
  const tableName = await dynalite.createTable();
  sqsStub.reset();
  const sqs = new FakeSqs(sqsStub).install();
  const wakes: DynamoStores['wakes'] = [];
  const storage = createAwsStorage({
    dynamo: dynalite.client,
    tableName,
    sqs: new SQSClient({ region: 'us-east-1' }),
    queueUrl: QUEUE_URL,
    scheduler: {
      scheduleWake: async (messageId, dueAt, sentBy) => {
        wakes.push({ messageId, dueAt, ...(sentBy !== undefined && { sentBy }) });
      },
    },
    clock: options.clock ?? systemClock,
    retentionMs: 14 * DAY_MS,
    visibility: options.visibility ?? 'immediate',
    claimProvisionalMs: 60_000,
    listingWatermarkMs: options.watermarkMs ?? 0,
  });
  /** The latest attempt entry sent for a message. */
  const entryOf = (messageId: string): AttemptEntry => {
    for (const { body } of [...sqs.sent].reverse()) {
      const entry = decodeEntry(body);
      if (entry.kind === 'attempt' && entry.messageId === messageId) return entry;
    }
    throw new Error(`no attempt entry was sent for ${messageId}`);
  };
  return {
    ...storage,
    pending: storage.pendingMessages,
    client: dynalite.client,
    tableName,
    sqs,
    wakes,
    // An attempt starts when the delivery function takes the entry and finds it may go.
    startAttempt: async (messageId) => {
      const decision = await storage.messages.prepareAttempt(entryOf(messageId), 1);
      if (decision.kind !== 'attempt') {
        throw new Error(`${messageId} could not be attempted: ${decision.reason}`);
      }
    },
    // An attempt given back uncounted: its entry is received again.
    abandonAttempt: async (messageId) => {
      await storage.messages.prepareAttempt(entryOf(messageId), 2);
    },
    cleanup: () => dynalite.deleteTable(tableName),
  };
}

/** The table's calls, for tests that look at items directly. */
export function callsOf(stores: DynamoStores): DynamoCalls {
  return new DynamoCalls({ client: stores.client, tableName: stores.tableName });
}
