import { makeMessage, T0 } from '../helpers/messages';
import { deadLetterOf, failedSettlement } from '../helpers/settlements';
import { describeDeadLetterStoreContract } from './dead-letter-store.contract';
import type { DynamoStores } from './dynamo-stores';
import { makeDynamoStores, useDynalite } from './dynamo-stores';

useDynalite();

describeDeadLetterStoreContract('DynamoDeadLetterStore', () => makeDynamoStores());

describe('DynamoDeadLetterStore on DynamoDB', () => {
  let stores: DynamoStores;

  beforeEach(async () => {
    stores = await makeDynamoStores();
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  it('retries more dead letters than one transaction holds', async () => {
    // Queued, so each replacement also takes a queue position: the largest transactions.
    const dlqIds = Array.from({ length: 40 }, (_, index) => `${index}-0`);
    await stores.queues.ensureQueue('q1', T0);
    for (const dlqId of dlqIds) {
      const message = makeMessage({ messageId: `msg_${dlqId}`, queueName: 'q1' });
      await stores.messages.insertMessage(message, undefined, T0);
      await stores.messages.settleAttempt(
        failedSettlement(message, deadLetterOf(message, dlqId, T0 + 1)),
      );
    }

    const result = await stores.deadLetters.replaceWithMessages(
      dlqIds.map((dlqId) => ({
        dlqId,
        message: makeMessage({ messageId: `msg_retry_${dlqId}`, queueName: 'q1' }),
      })),
      T0 + 2,
    );

    expect(result).toEqual({ missing: [] });
    const left = await stores.deadLetters.listDeadLetters({
      filter: {},
      count: 100,
      order: 'earliestFirst',
    });
    expect(left.items).toEqual([]);
    // The failed messages left the queue; their 40 replacements wait in it.
    expect((await stores.queues.getQueue('q1'))?.lag).toBe(40);
    expect(await stores.messages.getPendingMessage('msg_retry_39-0')).toBeDefined();
  });
});
