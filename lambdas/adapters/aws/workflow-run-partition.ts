/**
 * A workflow run's partition, `WFR#<runId>`, as both of its modules read it: the run store
 * (dynamo-workflow-run-store.ts: the run, its messages and steps) and the waits
 * (dynamo-workflow-waits.ts: its waits and kept notifications).
 */
import type { DynamoCalls, Item, Key } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE } from './table';

const PK = TABLE.partitionKey;
const SK = TABLE.sortKey;

export function runPk(runId: string): string {
  return `WFR#${runId}`;
}

export function keyOf(item: Item): Key {
  return { pk: item[PK] as string, sk: item[SK] as string };
}

/** The condition of a write that must not replace an item. */
export function notExists(): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  return {
    ConditionExpression: 'attribute_not_exists(#pk)',
    ExpressionAttributeNames: { '#pk': PK },
  };
}

/** The items of the run's partition whose sort key starts with `prefix` (all, without). */
export function queryRun(calls: DynamoCalls, runId: string, prefix?: string): Promise<Item[]> {
  const b = new ExpressionBuilder();
  const partition = `${b.name(PK)} = ${b.value(runPk(runId))}`;
  return calls.queryAll({
    KeyConditionExpression:
      prefix === undefined
        ? partition
        : `${partition} AND begins_with(${b.name(SK)}, ${b.value(prefix)})`,
    ...b.parts(),
    ConsistentRead: true,
  });
}
