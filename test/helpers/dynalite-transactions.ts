// dynalite 4 implements neither TransactWriteItems nor ReturnValuesOnConditionCheckFailure
// (architect/dynalite#151, open). The DynamoDB adapters need both, so this module adds
// TransactWriteItems to an in-process dynalite server, built from dynalite's own validation,
// condition and write code. It is test infrastructure, kept as close to the documented
// DynamoDB behaviour as the adapters rely on:
// - all conditions are checked first; if any fails, nothing is written and the call fails with
//   TransactionCanceledException, one CancellationReason per item in request order, carrying
//   the item when that item asked for ReturnValuesOnConditionCheckFailure ALL_OLD;
// - at most 100 items, at most 4 MB in all, never two operations on one item (ValidationException);
// - isolation: the server handles one request at a time, so a transaction is never interleaved
//   with another request (DynamoDB serialises transactions against single-item writes).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Callback<T> = (error: DynaliteError | null, result?: T) => void;
type DynaliteError = Error & { statusCode?: number; body?: Record<string, unknown> };
type WireItem = Record<string, Record<string, unknown>>;
type Table = { TableName: string; KeySchema: { AttributeName: string }[] };
type ItemDb = {
  get(key: string, callback: (error: Error | null, item?: WireItem) => void): void;
};
type Store = {
  getTable(name: string, callback: Callback<Table>): void;
  getItemDb(name: string): ItemDb;
};
type Validation = { types: Record<string, unknown>; custom?: unknown };
type Action = (store: Store, data: Record<string, unknown>, callback: Callback<unknown>) => void;

const dynaliteDb = require('dynalite/db') as {
  create(options: unknown): Store;
  createKey(item: WireItem, table: Table): string;
  checkConditional(data: Record<string, unknown>, existing: WireItem | undefined): unknown;
  itemSize(item: WireItem): number;
};
const validations = require('dynalite/validations') as {
  checkTypes(data: Record<string, unknown>, types: unknown): Record<string, unknown>;
  checkValidations(
    data: Record<string, unknown>,
    types: unknown,
    custom: unknown,
    store: Store,
  ): void;
};

const MAX_TRANSACTION_ITEMS = 100;
const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;
const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';

type Operation = 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
const ACTION_OF: Record<Operation, string> = {
  Put: 'putItem',
  Update: 'updateItem',
  Delete: 'deleteItem',
  // A condition check has a delete's shape (Key, ConditionExpression); it is validated as one.
  ConditionCheck: 'deleteItem',
};

type PreparedItem = {
  operation: Operation;
  data: Record<string, unknown>;
  table: Table;
  key: string;
  existing: WireItem | undefined;
  returnOld: boolean;
};

/** What the transactions written so far looked like, for tests of write costs. */
export type TransactionStats = {
  /** Transactions that were written. */
  committed: number;
  /** The largest item any transaction put, in DynamoDB's item size (bytes). */
  largestPutBytes: number;
};

/**
 * Starts dynalite as `require('dynalite')(options)` does, with TransactWriteItems added and every
 * request handled one at a time. `stats` is updated as transactions commit.
 */
export function dynaliteWithTransactions(
  options: Record<string, unknown>,
  stats: TransactionStats = { committed: 0, largestPutBytes: 0 },
): Server {
  let store: Store | undefined;
  const create = dynaliteDb.create;
  dynaliteDb.create = (storeOptions) => {
    store = create(storeOptions);
    return store;
  };
  let server: Server;
  try {
    server = (require('dynalite') as (options: unknown) => Server)(options);
  } finally {
    dynaliteDb.create = create;
  }
  if (!store) throw new Error('dynalite did not create its store');
  const capturedStore = store;
  const [dynaliteHandler] = server.listeners('request') as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  server.removeAllListeners('request');
  let queue: Promise<void> = Promise.resolve();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    queue = queue.then(() =>
      req.headers['x-amz-target'] === 'DynamoDB_20120810.TransactWriteItems'
        ? transactWriteItems(capturedStore, req, res, stats).catch((error: unknown) => {
            send(res, 500, {
              __type: 'com.amazon.coral.service#InternalFailure',
              message: String(error),
            });
          })
        : new Promise<void>((resolve) => {
            res.once('close', () => resolve());
            dynaliteHandler!(req, res);
          }),
    );
  });
  return server;
}

async function transactWriteItems(
  store: Store,
  req: IncomingMessage,
  res: ServerResponse,
  stats: TransactionStats,
): Promise<void> {
  const request = JSON.parse(await readBody(req)) as {
    TransactItems?: Record<string, Record<string, unknown>>[];
  };
  const items = request.TransactItems ?? [];
  if (items.length === 0 || items.length > MAX_TRANSACTION_ITEMS) {
    return validationError(
      res,
      `1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_TRANSACTION_ITEMS}`,
    );
  }
  const prepared: PreparedItem[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;
  let largestPut = 0;
  for (const entry of items) {
    const operation = Object.keys(entry)[0] as Operation;
    const { ReturnValuesOnConditionCheckFailure, ...params } = entry[operation]!;
    const validation = require(`dynalite/validations/${ACTION_OF[operation]}`) as Validation;
    let data: Record<string, unknown>;
    let table: Table;
    try {
      data = validations.checkTypes({ ...params }, validation.types);
      validations.checkValidations(data, validation.types, validation.custom, store);
      table = await call<Table>((callback) => store.getTable(data.TableName as string, callback));
    } catch (error) {
      const { statusCode, body } = error as DynaliteError;
      if (statusCode) return send(res, statusCode, body!);
      throw error;
    }
    const keyItem = (operation === 'Put' ? data.Item : data.Key) as WireItem;
    const key = `${table.TableName}/${dynaliteDb.createKey(keyItem, table)}`;
    if (seen.has(key)) {
      return validationError(
        res,
        'Transaction request cannot include multiple operations on one item',
      );
    }
    seen.add(key);
    if (operation === 'Put') {
      const bytes = dynaliteDb.itemSize(data.Item as WireItem);
      totalBytes += bytes;
      largestPut = Math.max(largestPut, bytes);
    }
    const existing = await call<WireItem | undefined>((callback) =>
      store
        .getItemDb(table.TableName)
        .get(dynaliteDb.createKey(keyItem, table), (error, item) =>
          callback(error && error.name !== 'NotFoundError' ? error : null, item ?? undefined),
        ),
    );
    prepared.push({
      operation,
      data,
      table,
      key,
      existing,
      returnOld: ReturnValuesOnConditionCheckFailure === 'ALL_OLD',
    });
  }
  if (totalBytes > MAX_TRANSACTION_BYTES) {
    return validationError(res, 'Transaction request exceeds the maximum allowed size');
  }

  const reasons = prepared.map((item) =>
    dynaliteDb.checkConditional(item.data, item.existing) === null
      ? { Code: 'None' }
      : {
          Code: 'ConditionalCheckFailed',
          Message: 'The conditional request failed',
          ...(item.returnOld && item.existing && { Item: item.existing }),
        },
  );
  if (reasons.some((reason) => reason.Code !== 'None')) {
    return send(res, 400, {
      __type: `${ERROR_PREFIX}TransactionCanceledException`,
      Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
      CancellationReasons: reasons,
    });
  }

  const applied: PreparedItem[] = [];
  try {
    for (const item of prepared) {
      if (item.operation === 'ConditionCheck') continue;
      // Checked above, with no other request in between.
      delete item.data._condition;
      await runAction(store, ACTION_OF[item.operation], item.data);
      applied.push(item);
    }
  } catch (error) {
    // A write refused half-way (an update making an item too large): undo, as DynamoDB would
    // never have started.
    for (const item of applied.reverse()) await restore(store, item);
    const { statusCode, body } = error as DynaliteError;
    if (statusCode) return send(res, statusCode, body!);
    throw error;
  }
  stats.committed += 1;
  stats.largestPutBytes = Math.max(stats.largestPutBytes, largestPut);
  send(res, 200, {});
}

async function restore(store: Store, item: PreparedItem): Promise<void> {
  const TableName = item.table.TableName;
  if (item.existing) {
    await runAction(store, 'putItem', { TableName, Item: item.existing });
  } else {
    const keyItem = (item.operation === 'Put' ? item.data.Item : item.data.Key) as WireItem;
    const Key = Object.fromEntries(
      item.table.KeySchema.map(({ AttributeName }) => [AttributeName, keyItem[AttributeName]]),
    );
    await runAction(store, 'deleteItem', { TableName, Key });
  }
}

function runAction(store: Store, action: string, data: Record<string, unknown>): Promise<unknown> {
  const run = require(`dynalite/actions/${action}`) as Action;
  return call((callback) => run(store, data, callback));
}

function call<T>(run: (callback: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, result) => (error ? reject(error) : resolve(result as T)));
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function validationError(res: ServerResponse, message: string): void {
  send(res, 400, { __type: 'com.amazon.coral.validate#ValidationException', message });
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/x-amz-json-1.0');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('x-amzn-RequestId', 'transact-write-items');
  res.end(text);
}
