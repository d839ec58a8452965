import { createHash, randomBytes } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { callbackPayload } from '../../lambdas/core/callbacks';
import type { Message } from '../../lambdas/core/message';
import { makeMessage, T0 } from '../helpers/messages';
import { callbackMessage, deadLetterOf, event } from '../helpers/settlements';
import type { DynamoStores } from './dynamo-stores';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeMessageStoreContract } from './message-store.contract';

const dynalite = useDynalite();

describeMessageStoreContract('DynamoMessageStore', async () => {
  const stores = await makeDynamoStores();
  return { store: stores.messages, cleanup: stores.cleanup };
});

const KIB = 1024;
/** DynamoDB's item size limit. */
const MAX_ITEM_BYTES = 400 * KIB;
const DEDUP_WINDOW_MS = 60_000;

describe('DynamoMessageStore on DynamoDB', () => {
  let stores: DynamoStores;

  beforeEach(async () => {
    stores = await makeDynamoStores();
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  const rawItem = async (pk: string, sk: string) =>
    (
      await stores.options.client.send(
        new GetItemCommand({
          TableName: stores.options.tableName,
          Key: { pk: { S: pk }, sk: { S: sk } },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const allItems = async () => {
    const items: Record<string, AttributeValue>[] = [];
    let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await stores.options.client.send(
        new ScanCommand({ TableName: stores.options.tableName, ExclusiveStartKey }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  };

  describe('dedup claims', () => {
    const claim = { key: 'id:order-42', expiresAt: T0 + DEDUP_WINDOW_MS };

    it('compares the stored expiry: a claim expired but not yet deleted by TTL lets a publish through', async () => {
      await stores.messages.insertMessage(makeMessage({ messageId: 'msg_first' }), claim, T0);
      const stored = await rawItem(`DEDUP#${claim.key}`, 'DEDUP');
      expect(stored?.ttl).toEqual({ N: String(Math.ceil(claim.expiresAt / 1000)) });

      // TTL deletes lazily: the expired claim is still in the table when the next publish comes.
      const result = await stores.messages.insertMessage(
        makeMessage({ messageId: 'msg_second' }),
        { key: claim.key, expiresAt: claim.expiresAt + DEDUP_WINDOW_MS },
        claim.expiresAt,
      );

      expect(result).toEqual({ inserted: true });
      expect((await rawItem(`DEDUP#${claim.key}`, 'DEDUP'))?.messageId).toEqual({
        S: 'msg_second',
      });
    });

    it('lets exactly one of two concurrent publishes take a key, and leaves no record of the other', async () => {
      const results = await Promise.all(
        ['msg_a', 'msg_b'].map((messageId) =>
          stores.messages.insertMessage(makeMessage({ messageId }), claim, T0),
        ),
      );

      const winner = results.findIndex((result) => result.inserted);
      const [kept, lost] = winner === 0 ? ['msg_a', 'msg_b'] : ['msg_b', 'msg_a'];
      expect(results[1 - winner]).toEqual({ inserted: false, existingMessageId: kept });
      expect(await rawItem(`MSG#${lost}`, 'MSG')).toBeUndefined();
      expect(await stores.messages.getMessage(kept!)).toBeDefined();
    });

    it('holds a key too long for a partition key, by its hash', async () => {
      const longClaim = { key: `id:${'x'.repeat(3_000)}`, expiresAt: T0 + DEDUP_WINDOW_MS };
      await stores.messages.insertMessage(makeMessage({ messageId: 'msg_a' }), longClaim, T0);

      const again = await stores.messages.insertMessage(
        makeMessage({ messageId: 'msg_b' }),
        longClaim,
        T0 + 1,
      );

      expect(again).toEqual({ inserted: false, existingMessageId: 'msg_a' });
    });
  });

  describe('item sizes and write costs', () => {
    it('keeps every item under 400 KB, and bodies out of transactions, for a 256 KiB body', async () => {
      const source = makeMessage({
        messageId: 'msg_big',
        body: randomBytes(256 * KIB),
        callback: { url: 'https://example.com/cb', method: 'POST', header: {} },
      });
      const response = randomBytes(100 * KIB);
      const report = { status: 500, header: {}, body: response, retried: 3 };
      // The callback echoes the source body and the response, base64: about 480 KB.
      const callback: Message = {
        ...callbackMessage(source, 'msg_cb', 'callback'),
        body: new TextEncoder().encode(JSON.stringify(callbackPayload(source, report))),
      };
      const deadLetter = deadLetterOf(source, '1-0', T0 + 1, { responseBody: response });
      const errorEvent = event(source, 'ERROR', T0 + 1, {
        responseStatus: 500,
        responseBody: Buffer.from(response).toString('base64'),
      });
      const largestBefore = dynalite().transactions.largestPutBytes;

      await stores.messages.insertMessage(source, undefined, T0);
      await stores.startAttempt('msg_big', T0);
      await stores.messages.settleAttempt({
        message: source,
        retried: 3,
        outcome: { kind: 'failed', deadLetter },
        events: [event(source, 'ACTIVE', T0), errorEvent, event(source, 'FAILED', T0 + 1)],
        callbacks: [callback],
      });

      const sizes = (await allItems()).map(itemBytes);
      expect(Math.max(...sizes)).toBeLessThan(MAX_ITEM_BYTES);
      expect(Math.max(largestBefore, dynalite().transactions.largestPutBytes)).toBeLessThan(
        8 * KIB,
      );
      expect(digest((await stores.messages.getMessage('msg_big'))!.body)).toBe(digest(source.body));
      expect(digest((await stores.messages.getPendingMessage('msg_cb'))!.body)).toBe(
        digest(callback.body),
      );
      const entry = await stores.deadLetters.getDeadLetter('1-0');
      expect(digest(entry!.deadLetter.responseBody)).toBe(digest(response));
      expect(digest(entry!.message.body)).toBe(digest(source.body));
      const log = await stores.events.listEvents({
        filter: { messageIds: ['msg_big'], states: ['ERROR'] },
        count: 10,
        order: 'earliestFirst',
      });
      expect(log.items.map((record) => record.event)).toEqual([errorEvent]);
    });
  });
});

/** Large bodies compared by digest: jest compares big arrays element by element, slowly. */
function digest(bytes: Uint8Array): string {
  return `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An item's size as DynamoDB counts it: attribute names plus values. */
function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.N !== undefined) return Math.ceil(value.N.length / 2) + 1;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueBytes(v), 0);
  if (value.M !== undefined) return 3 + itemBytes(value.M);
  return 1;
}
