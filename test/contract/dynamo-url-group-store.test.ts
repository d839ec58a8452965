import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoUrlGroupStore,
  MAX_GROUP_ENDPOINT_BYTES,
  UrlGroupContentionError,
} from '../../lambdas/adapters/aws/dynamo-url-group-store';
import { BadRequestError } from '../../lambdas/core/errors';
import type { Endpoint } from '../../lambdas/ports/url-group-store';
import { type Dynalite, startDynalite } from '../helpers/dynalite';
import { T0 } from '../helpers/messages';
import { describeUrlGroupStoreContract } from './url-group-store.contract';

let dynalite: Dynalite;

beforeAll(async () => {
  dynalite = await startDynalite();
});
afterAll(() => dynalite.close());

describeUrlGroupStoreContract('DynamoUrlGroupStore', async () => {
  const tableName = await dynalite.createTable();
  return {
    store: new DynamoUrlGroupStore({ client: dynalite.client, tableName }),
    cleanup: () => dynalite.deleteTable(tableName),
  };
});

describe('Class: DynamoUrlGroupStore', () => {
  let tableName: string;
  let store: DynamoUrlGroupStore;

  beforeEach(async () => {
    tableName = await dynalite.createTable();
    store = new DynamoUrlGroupStore({ client: dynalite.client, tableName });
  });

  afterEach(() => dynalite.deleteTable(tableName));

  const url = (index: number) => `https://e${index}.example.com/hook`;

  it('keeps every endpoint of concurrent upserts to one group', async () => {
    // Act: each upsert reads the group, then races the others to write it back.
    await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        store.upsertEndpoints('orders', [{ url: url(index), name: `e${index}` }], T0 + index),
      ),
    );

    // Assess
    const group = await store.getGroup('orders');
    expect(group?.endpoints.map((endpoint) => endpoint.url).sort()).toEqual(
      Array.from({ length: 8 }, (_, index) => url(index)).sort(),
    );
    expect(group?.createdAt).toBeGreaterThanOrEqual(T0);
  });

  it('loses neither a concurrent removal nor a concurrent upsert', async () => {
    // Prepare
    await store.upsertEndpoints('orders', [{ url: url(0) }, { url: url(1) }], T0);

    // Act
    await Promise.all([
      store.removeEndpoints('orders', [{ url: url(0) }], T0 + 1),
      store.upsertEndpoints('orders', [{ url: url(2) }], T0 + 1),
      store.upsertEndpoints('orders', [{ url: url(3) }], T0 + 1),
    ]);

    // Assess
    const urls = (await store.getGroup('orders'))?.endpoints.map((endpoint) => endpoint.url);
    expect(urls?.sort()).toEqual([url(1), url(2), url(3)].sort());
  });

  it('stores one item per group, with a version that counts its changes', async () => {
    // Prepare
    await store.upsertEndpoints('orders', [{ url: url(0), name: 'a' }], T0);
    await store.upsertEndpoints('orders', [{ url: url(1) }], T0 + 1);

    // Act
    const { Item } = await dynalite.client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'URLGROUP' }, sk: { S: 'GROUP#orders' } },
      }),
    );

    // Assess
    expect(Item).toEqual({
      pk: { S: 'URLGROUP' },
      sk: { S: 'GROUP#orders' },
      name: { S: 'orders' },
      createdAt: { N: String(T0) },
      updatedAt: { N: String(T0 + 1) },
      version: { N: '2' },
      endpoints: {
        L: [{ M: { url: { S: url(0) }, name: { S: 'a' } } }, { M: { url: { S: url(1) } } }],
      },
    });
  });

  it('refuses, writing nothing, a group too large for one DynamoDB item', async () => {
    // Prepare: 1,000-byte urls, so the cap is passed after about 375 of them.
    await store.upsertEndpoints('big', [{ url: url(0) }], T0);
    const longUrl = (index: number) => `https://example.com/${index}/${'x'.repeat(980)}`;
    const endpoints: Endpoint[] = Array.from({ length: 400 }, (_, index) => ({
      url: longUrl(index),
    }));

    // Act
    const error = await store
      .upsertEndpoints('big', endpoints, T0 + 1)
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^URL group "big" would hold 401 endpoints taking \\d+ KB; a URL group's endpoint urls ` +
          `and names may take at most ${MAX_GROUP_ENDPOINT_BYTES / 1000} KB \\(about 37\\d endpoints`,
      ),
    );
    expect((await store.getGroup('big'))?.endpoints).toEqual([{ url: url(0) }]);
  });

  it('accepts a group at the cap, which then fits in one DynamoDB item', async () => {
    // Prepare: 369 endpoints of a 1,000-byte url and a 12-byte name count 379,332 bytes with
    // the 16-byte per-endpoint overhead, just under the cap; one more would pass it.
    const endpoints: Endpoint[] = Array.from({ length: 369 }, (_, index) => {
      const prefix = `https://example.com/${String(index).padStart(3, '0')}/`;
      return {
        url: prefix + 'x'.repeat(1000 - prefix.length),
        name: `endpoint-${String(index).padStart(3, '0')}`,
      };
    });

    // Act
    await store.upsertEndpoints('big', endpoints, T0);
    const oneMore = await store
      .upsertEndpoints(
        'big',
        [{ url: `https://example.com/more/${'x'.repeat(976)}`, name: 'endpoint-369' }],
        T0 + 1,
      )
      .catch((caught: unknown) => caught);

    // Assess
    expect((await store.getGroup('big'))?.endpoints).toEqual(endpoints);
    expect(oneMore).toBeInstanceOf(BadRequestError);
  });

  it('gives up with UrlGroupContentionError when every attempt loses a race', async () => {
    // Prepare: after each read of this store, another writer changes the group first.
    await store.upsertEndpoints('orders', [{ url: url(0) }], T0);
    const raced = new DynamoDBClient({
      endpoint: dynalite.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    let interloper = 0;
    raced.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'GetItemCommand') {
          interloper++;
          await store.upsertEndpoints('orders', [{ url: url(100 + interloper) }], T0 + 1);
        }
        return result;
      },
      { step: 'initialize' },
    );
    const loser = new DynamoUrlGroupStore({
      client: raced,
      tableName,
      maxAttempts: 3,
      retryBaseDelayMs: 0,
    });

    // Act
    const error = await loser
      .upsertEndpoints('orders', [{ url: url(1) }], T0 + 2)
      .catch((caught: unknown) => caught);
    raced.destroy();

    // Assess
    expect(error).toBeInstanceOf(UrlGroupContentionError);
    expect((error as Error).message).toBe(
      'URL group "orders" was changed by other requests during each of 3 attempts to change it; ' +
        'nothing was written, try again',
    );
    expect((await store.getGroup('orders'))?.endpoints).toEqual([
      { url: url(0) },
      { url: url(101) },
      { url: url(102) },
      { url: url(103) },
    ]);
  });
});
