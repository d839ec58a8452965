import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TABLE } from '../../lambdas/adapters/aws/table';
import type { TransactionStats } from './dynalite-transactions';
import { dynaliteWithTransactions } from './dynalite-transactions';

/** A dynalite server in this process, and a client for it. */
export type Dynalite = {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Counts of the TransactWriteItems calls served so far (all tables). */
  readonly transactions: TransactionStats;
  /** Creates a fresh, empty table with the stack's schema and resolves with its name. */
  createTable(): Promise<string>;
  deleteTable(name: string): Promise<void>;
  close(): Promise<void>;
};

let tables = 0;

/**
 * Starts dynalite (with TransactWriteItems added, see dynalite-transactions.ts) on 127.0.0.1 at a
 * free port. Tables are in memory and appear at once.
 */
export async function startDynalite(): Promise<Dynalite> {
  const transactions: TransactionStats = { committed: 0, largestPutBytes: 0 };
  const server: Server = dynaliteWithTransactions(
    { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 },
    transactions,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // Dynalite answers at once; a failure is a bug to see, not a blip to retry.
    maxAttempts: 1,
  });
  return {
    endpoint,
    client,
    transactions,
    createTable: async () => {
      tables += 1;
      const name = `sqstash-test-${process.pid}-${tables}`;
      await client.send(new CreateTableCommand(tableSchema(name)));
      await waitUntilActive(client, name);
      return name;
    },
    deleteTable: async (name) => {
      await client.send(new DeleteTableCommand({ TableName: name }));
    },
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** The table as the CDK stack creates it: string keys, no secondary index. */
function tableSchema(name: string): ConstructorParameters<typeof CreateTableCommand>[0] {
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [TABLE.partitionKey, TABLE.sortKey].map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S',
    })),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
  };
}

async function waitUntilActive(client: DynamoDBClient, name: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`table ${name} did not become ACTIVE`);
}
