/**
 * URL groups in the shared DynamoDB table (table.ts), one item per group:
 *
 * | attribute   | value                                                        |
 * |-------------|--------------------------------------------------------------|
 * | pk          | `URLGROUP`                                                   |
 * | sk          | `GROUP#<name>`                                               |
 * | name        | the group name                                               |
 * | createdAt   | epoch ms                                                     |
 * | updatedAt   | epoch ms                                                     |
 * | version     | 1 on creation, +1 on every change: the optimistic lock       |
 * | endpoints   | list of maps `{url, name?}`, in the order first added        |
 *
 * Every group shares one partition key, so `listGroups` is one strongly consistent, name-ordered
 * Query of the base table (no index, no lag behind a write). URL groups are management data:
 * few, small, rarely written, though read by every publish to a group. Should those reads ever
 * near one partition's throughput (about 3,000 reads a second), DynamoDB can split the
 * partition between sort keys; past that, give each group its own `pk` and a directory item.
 *
 * A change reads the group, computes the new endpoint list with the core's rules
 * (`mergeEndpoints`, `withoutMatching` in core/url-groups.ts, which SqliteUrlGroupStore applies
 * too) and writes it back only if `version` is still the one read. When another writer got
 * there first, the change is recomputed from the fresh item, so two concurrent upserts both
 * keep their endpoints.
 *
 * Calls go through DynamoCalls (dynamo-calls.ts), as in every DynamoDB adapter, which turns SDK
 * errors into ConditionFailedError and DynamoStoreError.
 *
 * A DynamoDB item holds at most 400 KB, so one group's endpoint urls and names may take at most
 * MAX_GROUP_ENDPOINT_BYTES; an upsert past it is refused with a 400 that says so.
 */
import { BadRequestError } from '../../core/errors';
import { mergeEndpoints, withoutMatching } from '../../core/url-groups';
import type {
  Endpoint,
  EndpointMatcher,
  RemoveEndpointsResult,
  UpsertEndpointsResult,
  UrlGroup,
  UrlGroupStore,
} from '../../ports/url-group-store';
import {
  ConditionFailedError,
  DynamoCalls,
  type DynamoTableOptions,
  type Item,
  type Key,
} from './dynamo-calls';

const GROUPS_PK = 'URLGROUP';
const GROUP_SK_PREFIX = 'GROUP#';
/**
 * What one group's endpoints may take, leaving headroom below DynamoDB's 400 KB item limit for
 * the other attributes and the per-endpoint overhead counted in `endpointBytes`.
 */
export const MAX_GROUP_ENDPOINT_BYTES = 380_000;
/** Per endpoint: the `url`/`name` attribute names and DynamoDB's list and map overhead. */
const ENDPOINT_OVERHEAD_BYTES = 16;
const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_RETRY_BASE_DELAY_MS = 10;
const MAX_RETRY_DELAY_MS = 200;

/** A group as this adapter reads and writes it: the port's UrlGroup plus its lock. */
type GroupRecord = UrlGroup & { readonly version: number };
/** The item: the layout in the file header. */
type GroupItem = Key & {
  name: string;
  createdAt: number;
  updatedAt: number;
  version: number;
  endpoints: { url: string; name?: string }[];
};

export type DynamoUrlGroupStoreOptions = DynamoTableOptions & {
  /**
   * How many times a change is computed and written before giving up when other writers keep
   * changing the same group in between.
   * @default 10
   */
  readonly maxAttempts?: number;
  /**
   * The upper bound of the random pause before the first recomputation; it doubles each time.
   * @default 10
   */
  readonly retryBaseDelayMs?: number;
};

/** A group changed under every attempt of a change; nothing was written. */
export class UrlGroupContentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlGroupContentionError';
  }
}

/** URL groups in the shared DynamoDB table. */
export class DynamoUrlGroupStore implements UrlGroupStore {
  readonly #table: DynamoCalls;
  readonly #maxAttempts: number;
  readonly #retryBaseDelayMs: number;

  constructor(options: DynamoUrlGroupStoreOptions) {
    this.#table = new DynamoCalls(options);
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
  }

  async upsertEndpoints(
    name: string,
    endpoints: readonly Endpoint[],
    nowMs: number,
  ): Promise<UpsertEndpointsResult> {
    return this.#withRetries(name, async () => {
      const group = await this.#read(name);
      const merged = mergeEndpoints(group?.endpoints ?? [], endpoints);
      if ('conflict' in merged) return { upserted: false, conflict: merged.conflict };
      refuseOversizedGroup(name, merged.endpoints);
      const written = await this.#putIfUnchanged(group, {
        name,
        createdAt: group?.createdAt ?? nowMs,
        updatedAt: nowMs,
        version: (group?.version ?? 0) + 1,
        endpoints: merged.endpoints,
      });
      return written ? { upserted: true } : RETRY;
    });
  }

  async removeEndpoints(
    name: string,
    matchers: readonly EndpointMatcher[],
    nowMs: number,
  ): Promise<RemoveEndpointsResult | undefined> {
    return this.#withRetries(name, async () => {
      const group = await this.#read(name);
      if (!group) return undefined;
      const kept = withoutMatching(group.endpoints, matchers);
      const removed = group.endpoints.length - kept.length;
      if (removed === 0) return { removed, groupDeleted: false };
      if (kept.length === 0) {
        const deleted = await unlessConditionFails(
          this.#table.delete(groupKey(name), unchangedSince(group)),
        );
        return deleted ? { removed, groupDeleted: true } : RETRY;
      }
      const written = await this.#putIfUnchanged(group, {
        ...group,
        updatedAt: nowMs,
        version: group.version + 1,
        endpoints: kept,
      });
      return written ? { removed, groupDeleted: false } : RETRY;
    });
  }

  async getGroup(name: string): Promise<UrlGroup | undefined> {
    const group = await this.#read(name);
    return group && withoutVersion(group);
  }

  async listGroups(): Promise<UrlGroup[]> {
    const items = await this.#table.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': GROUPS_PK, ':prefix': GROUP_SK_PREFIX },
      ConsistentRead: true,
    });
    return items.map((item) => withoutVersion(fromItem(item)));
  }

  async deleteGroup(name: string): Promise<boolean> {
    return unlessConditionFails(
      this.#table.delete(groupKey(name), { ConditionExpression: 'attribute_exists(pk)' }),
    );
  }

  async #read(name: string): Promise<GroupRecord | undefined> {
    const item = await this.#table.get(groupKey(name));
    return item && fromItem(item);
  }

  /** Writes `next` if the group is still as `read` saw it (missing, or at its version). */
  async #putIfUnchanged(read: GroupRecord | undefined, next: GroupRecord): Promise<boolean> {
    return unlessConditionFails(this.#table.put(toItem(next), unchangedSince(read)));
  }

  /** Runs `change` until it completes without losing a race, backing off with jitter. */
  async #withRetries<T>(name: string, change: () => Promise<T | typeof RETRY>): Promise<T> {
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) {
        const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseDelayMs * 2 ** (attempt - 2));
        await sleep(Math.random() * ceiling);
      }
      const result = await change();
      if (result !== RETRY) return result;
    }
    throw new UrlGroupContentionError(
      `URL group "${name}" was changed by other requests during each of ${this.#maxAttempts} ` +
        'attempts to change it; nothing was written, try again',
    );
  }
}

/** Returned by a change that lost a race and must be recomputed. */
const RETRY: unique symbol = Symbol('retry');

/** True when the conditional write went through, false when its condition failed. */
async function unlessConditionFails(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
}

/** The condition that the group is still as `read` saw it: missing, or at its version. */
function unchangedSince(read: GroupRecord | undefined) {
  return read
    ? {
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': read.version },
      }
    : { ConditionExpression: 'attribute_not_exists(pk)' };
}

function refuseOversizedGroup(name: string, endpoints: readonly Endpoint[]): void {
  const bytes = endpoints.reduce((total, endpoint) => total + endpointBytes(endpoint), 0);
  if (bytes <= MAX_GROUP_ENDPOINT_BYTES) return;
  const average = bytes / endpoints.length;
  throw new BadRequestError(
    `URL group "${name}" would hold ${endpoints.length} endpoints taking ${Math.ceil(bytes / 1000)} KB; ` +
      `a URL group's endpoint urls and names may take at most ${MAX_GROUP_ENDPOINT_BYTES / 1000} KB ` +
      `(about ${Math.floor(MAX_GROUP_ENDPOINT_BYTES / average)} endpoints of this size), ` +
      'because a group is one DynamoDB item of at most 400 KB. Remove endpoints or split the group',
  );
}

function endpointBytes(endpoint: Endpoint): number {
  return (
    Buffer.byteLength(endpoint.url) +
    (endpoint.name === undefined ? 0 : Buffer.byteLength(endpoint.name)) +
    ENDPOINT_OVERHEAD_BYTES
  );
}

function groupKey(name: string): Key {
  return { pk: GROUPS_PK, sk: `${GROUP_SK_PREFIX}${name}` };
}

function withoutVersion({ version: _, ...group }: GroupRecord): UrlGroup {
  return group;
}

function toItem(group: GroupRecord): GroupItem {
  return {
    ...groupKey(group.name),
    name: group.name,
    createdAt: group.createdAt,
    updatedAt: group.updatedAt,
    version: group.version,
    endpoints: group.endpoints.map(plainEndpoint),
  };
}

function fromItem(item: Item): GroupRecord {
  const stored = item as GroupItem;
  return {
    name: stored.name,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
    version: stored.version,
    endpoints: stored.endpoints.map(plainEndpoint),
  };
}

/** `{url}` or `{url, name}`: never a `name` key holding undefined. */
function plainEndpoint(endpoint: Endpoint): Endpoint {
  return endpoint.name === undefined
    ? { url: endpoint.url }
    : { url: endpoint.url, name: endpoint.name };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
