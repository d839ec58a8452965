/**
 * DynamoDB on-demand capacity as AWS bills it (aws-facts.md §4), from item sizes:
 * - a write consumes 1 WRU per started KB of the item, the larger of its size before and after
 *   (an update or delete bills the item it changes, not the request); a transaction bills 2x;
 * - a failed conditional write still consumes the capacity of the item it looked at;
 * - a strongly consistent read 1 RRU per started 4 KB (a query: of all the items it returns,
 *   summed), an eventually consistent one half that; a read of nothing still costs the minimum.
 * The table has no secondary index (lambdas/adapters/aws/table.ts), so nothing else is written.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type StoredItem = Record<string, AttributeValue>;

const KB = 1024;
const READ_UNIT_BYTES = 4 * KB;

function utf8(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/** Size of a number as DynamoDB stores it: about one byte per two significant digits, plus one. */
function numberSize(value: string): number {
  const digits = value.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, Math.ceil(digits.length / 2) + 1);
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSize(v), 0);
  if (value.M !== undefined) return 3 + Object.keys(value.M).length + itemSize(value.M);
  return 0;
}

/** An item's size: each attribute's name (UTF-8) plus its value. */
export function itemSize(item: StoredItem | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

/** The size of an item as the document client returns it (plain JS values). */
export function plainItemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value !== undefined) size += utf8(name) + plainValueSize(value);
  }
  return size;
}

function plainValueSize(value: unknown): number {
  if (typeof value === 'string') return utf8(value);
  if (typeof value === 'number' || typeof value === 'bigint') return numberSize(String(value));
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set)
    return [...value].reduce<number>((sum, v) => sum + plainValueSize(v), 0);
  if (Array.isArray(value))
    return 3 + value.reduce<number>((sum, v) => sum + 1 + plainValueSize(v), 0);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return 3 + entries.length + plainItemSize(value as Record<string, unknown>);
  }
  return 0;
}

export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / KB));
}

export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}
