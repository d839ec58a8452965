/**
 * Payloads larger than one DynamoDB item (400 KB): message bodies, response bodies and event
 * data up to several MiB. An item keeps the first bytes of a payload inline and the rest in part
 * items next to it, `<item sk>#<name><tag><nnn>` in the same partition, so the query that reads
 * an item's partition reads its parts too. Parts are written before the item that names them,
 * carry the item's `ttl`, and are named with the item's `partsTag`, unique to each write: two
 * writers racing for one item (a settlement and a stale one) never overwrite each other's parts.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoCalls, Item } from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE } from './table';

/** Bytes of payload per item, leaving room under DynamoDB's 400 KB for names and small fields. */
export const ITEM_PAYLOAD_BYTES = 350_000;
/**
 * Payload kept inline in an item that is written in a transaction or raced for: a transaction
 * bills every KB twice, and parts cost no more per KB than the item.
 */
export const SMALL_INLINE_BYTES = 4_096;
const PART_DIGITS = 3;
const PARTS_TAG_BYTES = 4;
const EMPTY = new Uint8Array();

/** A payload cut for storage: what stays in the item, and the part items to write first. */
export type SplitPayload = { readonly inline: Uint8Array; readonly parts: Item[] };

/**
 * Keeps up to `inlineBytes` of `bytes` in the item and puts the rest in parts named after the
 * item (`pk`, `sk`), the payload (`name`, one letter per payload of the item) and the write
 * (`tag`, the item's `partsTag`).
 */
export function splitPayload(
  key: { readonly pk: string; readonly sk: string },
  name: string,
  bytes: Uint8Array,
  inlineBytes: number,
  options: { readonly ttl: number | undefined; readonly tag: string },
): SplitPayload {
  const ttl = options.ttl;
  const inline = bytes.subarray(0, Math.max(inlineBytes, 0));
  const parts: Item[] = [];
  for (let start = inline.byteLength; start < bytes.byteLength; start += ITEM_PAYLOAD_BYTES) {
    parts.push({
      [TABLE.partitionKey]: key.pk,
      [TABLE.sortKey]: partKey(key.sk, name + options.tag, parts.length),
      blob: bytes.subarray(start, start + ITEM_PAYLOAD_BYTES),
      ...(ttl !== undefined && { [TABLE.ttlAttribute]: ttl }),
    });
  }
  return { inline, parts };
}

/** The payload back: the inline bytes and the parts among `items` (in any order). */
export function joinPayload(
  inline: Uint8Array | undefined,
  item: Item,
  name: string,
  items: readonly Item[],
): Uint8Array {
  const prefix = partKey(
    item[TABLE.sortKey] as string,
    name + ((item.partsTag as string) ?? ''),
    undefined,
  );
  const parts = items
    .filter((item) => (item[TABLE.sortKey] as string).startsWith(prefix))
    .sort((a, b) => ((a[TABLE.sortKey] as string) < (b[TABLE.sortKey] as string) ? -1 : 1))
    .map((item) => item.blob as Uint8Array);
  const head = inline ?? EMPTY;
  return parts.length === 0 ? head : Buffer.concat([head, ...parts]);
}

/** A fresh `partsTag` for a write that has parts. */
export function newPartsTag(): string {
  return randomBytes(PARTS_TAG_BYTES).toString('hex');
}

/** The parts of the item `sk` in partition `pk`, for an item read on its own (not by partition). */
export async function readParts(calls: DynamoCalls, pk: string, sk: string): Promise<Item[]> {
  const builder = new ExpressionBuilder();
  return calls.queryAll({
    KeyConditionExpression: `${builder.name(TABLE.partitionKey)} = ${builder.value(pk)} AND begins_with(${builder.name(TABLE.sortKey)}, ${builder.value(`${sk}#`)})`,
    ...builder.parts(),
    ConsistentRead: true,
  });
}

/** The keys of an item's parts of payload `name`, for deleting them with it. */
export function partKeys(item: Item, name: string, count: number): { pk: string; sk: string }[] {
  const tag = (item.partsTag as string | undefined) ?? '';
  return Array.from({ length: count }, (_, index) => ({
    pk: item[TABLE.partitionKey] as string,
    sk: partKey(item[TABLE.sortKey] as string, name + tag, index),
  }));
}

function partKey(sk: string, name: string, index: number | undefined): string {
  return `${sk}#${name}${index === undefined ? '' : String(index).padStart(PART_DIGITS, '0')}`;
}
