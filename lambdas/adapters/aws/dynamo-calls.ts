import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import type {
  DeleteCommandInput,
  GetCommandInput,
  PutCommandInput,
  QueryCommandInput,
  QueryCommandOutput,
  TransactWriteCommandInput,
  UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from './table';

/** An item as the document client reads and writes it. */
export type Item = Record<string, unknown>;
/** The primary key of an item of the table. */
export type Key = { readonly pk: string; readonly sk: string };
/** One item of a TransactWriteItems call, as the document client takes it. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB's cap on the items of one TransactWriteItems call. */
export const MAX_TRANSACTION_ITEMS = 100;
const MAX_BATCH_GET_KEYS = 100;
const MAX_BATCH_WRITE_ITEMS = 25;
/** Conditional writes that lose a race are re-read and tried again this often. */
export const RACE_ATTEMPTS = 5;
/** Transactions cancelled by a conflicting transaction or a throttle are tried this often. */
const TRANSACTION_ATTEMPTS = 5;
const TRANSACTION_BACKOFF_MS = 25;
const UNPROCESSED_ATTEMPTS = 8;
/** Calls a store makes at once for one request (reads of several items, batches of writes). */
export const PARALLEL_CALLS = 10;
const RETRYABLE_CANCELLATIONS = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
]);

/**
 * A DynamoDB call failed for a reason the store cannot turn into an answer (throttled beyond the
 * SDK's retries, a service error, a refused request). The core sees this error type only, never
 * the SDK's; the HTTP layer answers it with an opaque 500.
 */
export class DynamoStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DynamoStoreError';
  }
}

/** A single-item write's condition did not hold (ConditionalCheckFailedException). */
export class ConditionFailedError extends Error {
  constructor(options?: ErrorOptions) {
    super('the conditional request failed', options);
    this.name = 'ConditionFailedError';
  }
}

/** Why each item of a cancelled transaction failed, in request order ('None' for the rest). */
export type Cancellation = {
  readonly code: string;
  /** The item as stored, when the item asked for ReturnValuesOnConditionCheckFailure ALL_OLD. */
  readonly item?: Record<string, AttributeValue>;
};

/** A transaction was cancelled because a condition of one of its items did not hold. */
export class TransactionConditionError extends Error {
  readonly cancellations: readonly Cancellation[];
  constructor(cancellations: readonly Cancellation[], options?: ErrorOptions) {
    super(
      `transaction cancelled: ${cancellations.map((cancellation) => cancellation.code).join(', ')}`,
      options,
    );
    this.name = 'TransactionConditionError';
    this.cancellations = cancellations;
  }

  /** True when the item at `index` failed its condition. */
  failedAt(index: number): boolean {
    return this.cancellations[index]?.code === 'ConditionalCheckFailed';
  }
}

/** Where the adapters' items live. */
export type DynamoTableOptions = {
  /** The SDK client, created once per cold start by the composition root. */
  readonly client: DynamoDBClient;
  /** The table lambdas/adapters/aws/table.ts describes. */
  readonly tableName: string;
};

/**
 * The calls the DynamoDB adapters make, on one table, through the document client. Every SDK
 * error is translated here: a failed condition becomes ConditionFailedError or
 * TransactionConditionError, for the adapter to turn into its port's answer; anything else
 * becomes DynamoStoreError.
 */
export class DynamoCalls {
  readonly tableName: string;
  readonly #client: DynamoDBDocumentClient;

  constructor(options: DynamoTableOptions) {
    this.tableName = options.tableName;
    this.#client = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async get(key: Key, options: Partial<GetCommandInput> = {}): Promise<Item | undefined> {
    const output = await this.#send('GetItem', () =>
      this.#client.send(
        new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true, ...options }),
      ),
    );
    return output.Item;
  }

  /** Resolves with the item it replaced when asked for it (`ReturnValues: 'ALL_OLD'`). */
  async put(item: Item, options: Partial<PutCommandInput> = {}): Promise<Item | undefined> {
    const output = await this.#send('PutItem', () =>
      this.#client.send(new PutCommand({ TableName: this.tableName, Item: item, ...options })),
    );
    return output.Attributes;
  }

  async update(
    key: Key,
    options: Omit<UpdateCommandInput, 'TableName' | 'Key'>,
  ): Promise<Item | undefined> {
    const output = await this.#send('UpdateItem', () =>
      this.#client.send(new UpdateCommand({ TableName: this.tableName, Key: key, ...options })),
    );
    return output.Attributes;
  }

  /** Resolves with the item it deleted when asked for it (`ReturnValues: 'ALL_OLD'`). */
  async delete(key: Key, options: Partial<DeleteCommandInput> = {}): Promise<Item | undefined> {
    const output = await this.#send('DeleteItem', () =>
      this.#client.send(new DeleteCommand({ TableName: this.tableName, Key: key, ...options })),
    );
    return output.Attributes;
  }

  /** One page of a query. */
  async queryPage(input: Omit<QueryCommandInput, 'TableName'>): Promise<QueryCommandOutput> {
    return this.#send('Query', () =>
      this.#client.send(new QueryCommand({ TableName: this.tableName, ...input })),
    );
  }

  /** Every item a query matches, page after page. */
  async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.queryPage({ ...input, ExclusiveStartKey });
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  /** Reads items by key, in any order; keys that name no item are left out. */
  async batchGet(keys: readonly Key[], consistent: boolean): Promise<Item[]> {
    const items: Item[] = [];
    for (let start = 0; start < keys.length; start += MAX_BATCH_GET_KEYS) {
      let pending: Record<string, unknown>[] = keys.slice(start, start + MAX_BATCH_GET_KEYS);
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt === UNPROCESSED_ATTEMPTS) {
          throw new DynamoStoreError(`BatchGetItem left ${pending.length} keys unprocessed`);
        }
        if (attempt > 0) await delay(backoff(attempt));
        const output = await this.#send('BatchGetItem', () =>
          this.#client.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: consistent } },
            }),
          ),
        );
        items.push(...(output.Responses?.[this.tableName] ?? []));
        pending = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return items;
  }

  /**
   * Puts and deletes items without conditions, 25 per BatchWriteItem call, sending again what
   * DynamoDB left unprocessed (throttled); for writes that need no condition, such as index
   * items and the parts of a large payload.
   */
  async batchWrite(puts: readonly Item[], deletes: readonly Key[] = []): Promise<void> {
    const requests: Record<string, unknown>[] = [
      ...puts.map((Item) => ({ PutRequest: { Item } })),
      ...deletes.map((Key) => ({ DeleteRequest: { Key } })),
    ];
    const chunks: Record<string, unknown>[][] = [];
    for (let start = 0; start < requests.length; start += MAX_BATCH_WRITE_ITEMS) {
      chunks.push(requests.slice(start, start + MAX_BATCH_WRITE_ITEMS));
    }
    await mapLimit(chunks, PARALLEL_CALLS, async (chunk) => {
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        if (attempt === UNPROCESSED_ATTEMPTS) {
          throw new DynamoStoreError(`BatchWriteItem left ${pending.length} writes unprocessed`);
        }
        if (attempt > 0) await delay(backoff(attempt));
        const output = await this.#send('BatchWriteItem', () =>
          this.#client.send(
            new BatchWriteCommand({
              RequestItems: { [this.tableName]: pending as never },
            }),
          ),
        );
        pending = (output.UnprocessedItems?.[this.tableName] ?? []) as Record<string, unknown>[];
      }
    });
  }

  /**
   * Writes items in one transaction (at most MAX_TRANSACTION_ITEMS). A transaction cancelled by
   * a conflicting one or a throttle is tried again; a failed condition rejects with
   * TransactionConditionError.
   */
  async transact(items: readonly TransactItem[]): Promise<void> {
    if (items.length === 0) return;
    if (items.length > MAX_TRANSACTION_ITEMS) {
      throw new DynamoStoreError(
        `a transaction of ${items.length} items exceeds DynamoDB's ${MAX_TRANSACTION_ITEMS}`,
      );
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#client.send(new TransactWriteCommand({ TransactItems: [...items] }));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) {
          throw new DynamoStoreError(`TransactWriteItems failed: ${describe(error)}`, {
            cause: error,
          });
        }
        const cancellations: Cancellation[] = (error.CancellationReasons ?? []).map((reason) => ({
          code: reason.Code ?? 'None',
          ...(reason.Item !== undefined && { item: reason.Item }),
        }));
        if (cancellations.some((cancellation) => cancellation.code === 'ConditionalCheckFailed')) {
          throw new TransactionConditionError(cancellations, { cause: error });
        }
        const retryable = cancellations.every(
          (cancellation) =>
            cancellation.code === 'None' || RETRYABLE_CANCELLATIONS.has(cancellation.code),
        );
        if (!retryable || attempt === TRANSACTION_ATTEMPTS) {
          throw new DynamoStoreError(`TransactWriteItems cancelled: ${error.message}`, {
            cause: error,
          });
        }
        await delay(backoff(attempt));
      }
    }
  }

  async #send<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConditionFailedError({ cause: error });
      }
      throw new DynamoStoreError(`${operation} failed: ${describe(error)}`, { cause: error });
    }
  }
}

/** Deletes the item at `key` if it is there: resolves what was deleted, or undefined. */
export async function deleteIfThere(calls: DynamoCalls, key: Key): Promise<Item | undefined> {
  try {
    return await calls.delete(key, {
      ConditionExpression: 'attribute_exists(#pk)',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      ReturnValues: 'ALL_OLD',
    });
  } catch (error) {
    if (error instanceof ConditionFailedError) return undefined;
    throw error;
  }
}

/** Runs `run` over `items`, at most `limit` at a time. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await run(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function backoff(attempt: number): number {
  return TRANSACTION_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
