import type { LogFilter } from '../../lambdas/ports/event-log';
import { makeMessage, T0 } from '../helpers/messages';
import { deliveredSettlement } from '../helpers/settlements';
import { makeDynamoStores, useDynalite } from './dynamo-stores';
import { describeEventLogContract } from './event-log.contract';

useDynalite();

describeEventLogContract('DynamoEventLog', () => makeDynamoStores());

describe('DynamoEventLog: the watermark of listings by time', () => {
  const WATERMARK_MS = 5_000;

  it('lists an event by time once it was recorded the watermark ago, and by message id at once', async () => {
    let now = T0;
    const stores = await makeDynamoStores({
      watermarkMs: WATERMARK_MS,
      clock: { now: () => now },
    });
    const list = async (filter: LogFilter) =>
      (await stores.events.listEvents({ filter, count: 100, order: 'earliestFirst' })).items.map(
        ({ event }) => event.state,
      );
    const message = makeMessage({ messageId: 'msg_watermark', createdAt: T0 });
    await stores.messages.insertMessage(message, undefined, T0);
    now = T0 + 100;
    await stores.messages.settleAttempt(deliveredSettlement(message, T0 + 100));

    now = T0 + WATERMARK_MS - 1;
    const early = { byTime: await list({}), byId: await list({ messageIds: ['msg_watermark'] }) };
    now = T0 + WATERMARK_MS + 1;
    const between = await list({});
    now = T0 + 100 + WATERMARK_MS + 1;
    const late = await list({});

    expect(early).toEqual({ byTime: [], byId: ['CREATED', 'ACTIVE', 'DELIVERED'] });
    expect(between).toEqual(['CREATED']);
    expect(late).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
  });
});
