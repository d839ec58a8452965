import { SQSClient } from '@aws-sdk/client-sqs';
import { createAwsStorage } from '../../lambdas/adapters/aws/aws-storage';
import { decodeEntry } from '../../lambdas/adapters/aws/sqs-entries';
import { fixedClock, makeMessage, T0 } from '../helpers/messages';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeFlowControlStoreContract } from './flow-control-store.contract';

useDynalite();

describeFlowControlStoreContract('DynamoFlowControl', async () => {
  // The delivery function starts an attempt at the time it takes the entry: the clock is set
  // to the time the contract starts it at.
  const clock = fixedClock(T0);
  const stores = await makeDynamoStores({ clock });
  return {
    ...stores,
    startAttempt: async (messageId, nowMs) => {
      clock.set(nowMs);
      await stores.startAttempt(messageId, nowMs);
    },
  };
});

describe('DynamoFlowControl across function instances', () => {
  it('starts no more than the rate allows when two instances take entries of one key at once', async () => {
    const stores = await makeDynamoStores();
    // A second delivery function instance on the same table: nothing in process is shared.
    const other = createAwsStorage({
      dynamo: stores.client,
      tableName: stores.tableName,
      sqs: new SQSClient({ region: 'us-east-1' }),
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/sqstash-delivery',
      clock: { now: () => Date.now() },
      retentionMs: 86_400_000,
      claimProvisionalMs: 60_000,
      pumpInline: true,
    });
    const now = Date.now();
    for (let n = 0; n < 20; n += 1) {
      const message = makeMessage({
        messageId: `msg_${n}`,
        flowControl: { key: 'shared', rate: 5, periodSec: 60 },
        notBefore: now,
        createdAt: now,
      });
      await stores.messages.insertMessage(message, undefined, now);
    }
    const entries = stores.sqs.sent
      .map(({ body }) => decodeEntry(body))
      .filter((entry) => entry.kind === 'attempt');
    expect(entries).toHaveLength(20);

    const decisions = await Promise.all(
      entries.map((entry, index) =>
        (index % 2 === 0 ? stores.messages : other.messages).prepareAttempt(
          entry,
          1,
          `sqs-${index}`,
        ),
      ),
    );

    expect(decisions.filter((decision) => decision.kind === 'attempt')).toHaveLength(5);
    expect(decisions.filter((decision) => decision.kind === 'drop')).toHaveLength(15);
    const record = await stores.flowControl.getKey('shared', Date.now());
    expect(record).toMatchObject({ inFlight: 5, waiting: 15 });
    await stores.cleanup();
  }, 30_000);
});
