/**
 * Instruments the DynamoDB client the Lambda handlers create: a middleware on its stack sees
 * every command (by name) with its marshalled input, and works out what it consumed
 * (dynamo-capacity.ts) from the items it touched, read before and after the write through a
 * separate, uninstrumented client. The adapters reach DynamoDB only through
 * DynamoDBDocumentClient.from(client), which is where the middleware is attached.
 *
 * In `timing` mode it instead holds each call to an assumed in-region latency, so a handler's
 * wall time models its billed duration.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoredItem } from './dynamo-capacity';
import { itemSize, plainItemSize, readUnits, writeUnits } from './dynamo-capacity';

/** What one kind of call consumed, summed. */
export type CallTotals = {
  calls: number;
  /** Write units (transactions 2x). */
  wru: number;
  rru: number;
};

export type Mode = 'count' | 'timing' | 'off';

/** Write units by the kind of item written. */
export type ItemWrites = { writes: number; wru: number };

/** Calls counted by `service:Command`, and DynamoDB writes by item kind. */
export class Ledger {
  readonly totals = new Map<string, CallTotals>();
  readonly items = new Map<string, ItemWrites>();

  addItemWrite(kind: string, wru: number): void {
    const entry = this.items.get(kind) ?? { writes: 0, wru: 0 };
    entry.writes += 1;
    entry.wru += wru;
    this.items.set(kind, entry);
  }

  itemSnapshot(): Record<string, ItemWrites> {
    return Object.fromEntries([...this.items].map(([kind, writes]) => [kind, { ...writes }]));
  }

  add(name: string, consumed: Partial<CallTotals> = {}): void {
    const entry = this.totals.get(name) ?? { calls: 0, wru: 0, rru: 0 };
    entry.calls += consumed.calls ?? 1;
    entry.wru += consumed.wru ?? 0;
    entry.rru += consumed.rru ?? 0;
    this.totals.set(name, entry);
  }

  snapshot(): Record<string, CallTotals> {
    return Object.fromEntries([...this.totals].map(([name, totals]) => [name, { ...totals }]));
  }

  reset(): void {
    this.totals.clear();
    this.items.clear();
  }
}

type Key = Record<string, AttributeValue>;
type WriteTarget = { table: string; key: Key };
type TransactItem = {
  Put?: { TableName: string; Item: Key };
  Update?: { TableName: string; Key: Key };
  Delete?: { TableName: string; Key: Key };
  ConditionCheck?: { TableName: string; Key: Key };
};

type BatchRequest = { PutRequest?: { Item: Key }; DeleteRequest?: { Key: Key } };

/** The assumed latency of each call, in ms (stated in the report). */
export type LatencyModel = (service: string, command: string) => number;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Holds a call until `latencyMs` has passed since `startedAt` (a faster local call is padded). */
export async function padTo(startedAt: number, latencyMs: number): Promise<void> {
  const left = latencyMs - (performance.now() - startedAt);
  if (left > 0) await sleep(left);
}

export class DynamoInstrument {
  mode: Mode = 'off';
  readonly ledger: Ledger;
  readonly #peek: DynamoDBClient;
  readonly #latency: LatencyModel;
  readonly #instrumented = new WeakSet<object>();

  constructor(ledger: Ledger, peek: DynamoDBClient, latency: LatencyModel) {
    this.ledger = ledger;
    this.#peek = peek;
    this.#latency = latency;
  }

  /** Makes every DynamoDBDocumentClient.from(client) instrument `client` first. */
  install(): void {
    const from = DynamoDBDocumentClient.from.bind(DynamoDBDocumentClient);
    DynamoDBDocumentClient.from = (client, translateConfig) => {
      this.#attach(client);
      return from(client, translateConfig);
    };
  }

  #attach(client: DynamoDBClient): void {
    if (this.#instrumented.has(client)) return;
    this.#instrumented.add(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        if (this.mode === 'timing') {
          const startedAt = performance.now();
          const result = await next(args);
          await padTo(startedAt, this.#latency('DynamoDB', command));
          return result;
        }
        if (this.mode === 'off') return next(args);
        return this.#count(command, input, () => next(args));
      },
      { step: 'build', name: 'benchCapacityCounter', priority: 'low' },
    );
  }

  async #count<T>(
    command: string,
    input: Record<string, unknown>,
    send: () => Promise<T>,
  ): Promise<T> {
    const transaction = command === 'TransactWriteItems';
    const targets = writeTargets(command, input);
    const before = await Promise.all(targets.map((target) => this.#read(target)));
    let output: T;
    try {
      output = await send();
    } catch (error) {
      // A condition that failed still consumed the capacity of the items it looked at.
      const wru = before.reduce((sum, item) => sum + writeUnits(itemSize(item)), 0);
      this.ledger.add(`DynamoDB:${command} (failed)`, { wru: transaction ? 2 * wru : wru });
      throw error;
    }
    if (targets.length > 0) {
      const after = await Promise.all(targets.map((target) => this.#read(target)));
      // A batch write's unprocessed items were not written (the caller sends them again).
      const unprocessed = unprocessedKeys(output);
      let wru = 0;
      for (const [index, target] of targets.entries()) {
        if (unprocessed.has(keyText(target.key))) continue;
        const units = writeUnits(Math.max(itemSize(before[index]), itemSize(after[index])));
        wru += units;
        this.ledger.addItemWrite(itemKind(target.key), transaction ? 2 * units : units);
      }
      this.ledger.add(`DynamoDB:${command}`, { wru: transaction ? 2 * wru : wru });
    } else {
      this.ledger.add(`DynamoDB:${command}`, { rru: readCost(command, input, output) });
    }
    return output;
  }

  async #read(target: WriteTarget): Promise<StoredItem | undefined> {
    const { Item } = await this.#peek.send(
      new GetItemCommand({ TableName: target.table, Key: target.key, ConsistentRead: true }),
    );
    return Item;
  }
}

/** What an item is, from its key (lambdas/adapters/aws/table.ts lists the layout). */
export function itemKind(key: Key): string {
  const pk = key.pk?.S ?? '';
  const sk = key.sk?.S ?? '';
  if (/#P\d+$/.test(sk) || sk.startsWith('PART#')) return 'payload part';
  if (pk.startsWith('MSG#')) {
    if (sk.startsWith('WAKE#')) return 'wake mark';
    return sk === 'MSG' ? 'message record' : 'attempt log';
  }
  if (pk.startsWith('DEDUP#')) return 'dedup claim';
  if (pk.startsWith('PUB#')) return 'publish commit';
  if (pk.startsWith('EVT#')) return 'event index';
  if (pk.startsWith('PEND#')) return 'pending index';
  if (pk.startsWith('DLQ#')) return 'dead letter';
  if (pk.startsWith('DLQX#')) return 'dead-letter index';
  if (pk.startsWith('DIR#')) return 'time-index directory';
  if (pk.startsWith('QUEUE#')) return sk === 'STATE' ? 'FIFO queue state' : 'FIFO position';
  if (pk === 'QUEUES') return 'FIFO queue directory';
  if (pk.startsWith('FLOW#'))
    return sk === 'STATE' ? 'flow-control key state' : 'flow-control waitlist';
  if (pk.startsWith('FLOWDUE#')) return 'flow-control due time';
  if (pk === 'FLOWKEYS') return 'flow-control key directory';
  return pk.split('#')[0] || 'other';
}

function keyText(key: Key): string {
  return `${key.pk?.S}\u0000${key.sk?.S}`;
}

/** The keys a BatchWriteItem left unprocessed. */
function unprocessedKeys(output: unknown): Set<string> {
  const out = (output as { output?: Record<string, unknown> }).output ?? {};
  const left = (out.UnprocessedItems ?? {}) as Record<string, BatchRequest[]>;
  return new Set(
    Object.values(left)
      .flat()
      .map((request) => keyText(request.PutRequest?.Item ?? request.DeleteRequest!.Key)),
  );
}

function keyOf(table: { TableName: string }, item: Key): WriteTarget {
  return { table: table.TableName, key: { pk: item.pk!, sk: item.sk! } };
}

/** The items a write command changes (none for a read). */
function writeTargets(command: string, input: Record<string, unknown>): WriteTarget[] {
  switch (command) {
    case 'PutItem':
      return [keyOf(input as { TableName: string }, input.Item as Key)];
    case 'UpdateItem':
    case 'DeleteItem':
      return [keyOf(input as { TableName: string }, input.Key as Key)];
    case 'TransactWriteItems':
      return (input.TransactItems as TransactItem[]).flatMap((item) => {
        if (item.Put) return [keyOf(item.Put, item.Put.Item)];
        const keyed = item.Update ?? item.Delete ?? item.ConditionCheck;
        return keyed ? [keyOf(keyed, keyed.Key)] : [];
      });
    case 'BatchWriteItem':
      return Object.entries(input.RequestItems as Record<string, BatchRequest[]>).flatMap(
        ([TableName, requests]) =>
          requests.map((request) =>
            keyOf({ TableName }, request.PutRequest?.Item ?? request.DeleteRequest!.Key),
          ),
      );
    default:
      return [];
  }
}

/** RRU of a read, from the (document-client, unmarshalled) items it returned. */
function readCost(command: string, input: Record<string, unknown>, output: unknown): number {
  const consistent = input.ConsistentRead === true;
  const out = (output as { output?: Record<string, unknown> }).output ?? {};
  const sizeOf = (item: unknown) => plainItemSize(item as Record<string, unknown>);
  switch (command) {
    case 'GetItem':
      return readUnits(out.Item ? sizeOf(out.Item) : 0, consistent);
    case 'Query':
    case 'Scan': {
      const items = (out.Items as unknown[] | undefined) ?? [];
      return readUnits(
        items.reduce<number>((sum, item) => sum + sizeOf(item), 0),
        consistent,
      );
    }
    case 'BatchGetItem': {
      const responses = (out.Responses as Record<string, unknown[]> | undefined) ?? {};
      const requests = (input.RequestItems ?? {}) as Record<string, { ConsistentRead?: boolean }>;
      let units = 0;
      for (const [table, items] of Object.entries(responses)) {
        for (const item of items) {
          units += readUnits(sizeOf(item), requests[table]?.ConsistentRead === true);
        }
      }
      return units;
    }
    default:
      return 0;
  }
}
