import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { makeMessage, T0 } from '../helpers/messages';
import { describeMessageCancelContract } from './message-cancel.contract';
import { makeSqliteStores } from './sqlite-stores';

describeMessageCancelContract('SqliteMessageStore', makeSqliteStores);

describe('SqliteMessageStore: cancel and the delivery worker', () => {
  let stores: Awaited<ReturnType<typeof makeSqliteStores>>;

  beforeEach(async () => {
    stores = await makeSqliteStores();
  });
  afterEach(async () => {
    await stores.cleanup();
  });

  it('never hands a canceled waiting message to the worker', async () => {
    const { messages } = stores;
    await messages.insertMessage(
      makeMessage({ messageId: 'msg_a', notBefore: T0 + 5 }),
      undefined,
      T0,
    );
    await messages.insertMessage(
      makeMessage({ messageId: 'msg_b', notBefore: T0 + 9 }),
      undefined,
      T0,
    );

    await messages.cancelMessages({ messageIds: ['msg_a'] }, T0);

    expect(messages.nextDueAt(T0)).toBe(T0 + 9);
    expect(messages.claimDue(T0 + 10, 10, T0 + 100).map((c) => c.message.messageId)).toEqual([
      'msg_b',
    ]);
  });

  it('ends a canceled in-flight message CANCELED when a restart frees its lease', async () => {
    const { messages } = stores;
    await messages.insertMessage(makeMessage({ messageId: 'msg_a' }), undefined, T0);
    await messages.insertMessage(makeMessage({ messageId: 'msg_b' }), undefined, T0);
    messages.claimDue(T0, 10, T0 + 100);
    await messages.cancelMessages({ messageIds: ['msg_a'] }, T0 + 1);

    expect(messages.releaseAll()).toBe(2);

    expect(await messages.getMessage('msg_a')).toBeUndefined();
    expect(messages.claimDue(T0 + 1, 10, T0 + 100).map((c) => c.message.messageId)).toEqual([
      'msg_b',
    ]);
    const page = await stores.events.listEvents({
      filter: { messageIds: ['msg_a'] },
      count: 10,
      order: 'earliestFirst',
    });
    expect(page.items.map(({ event }) => event.state)).toEqual([
      'CREATED',
      'CANCEL_REQUESTED',
      'CANCELED',
    ]);
  });

  it('tells the worker when a cancel removed waiting messages, so a queue can move on', async () => {
    let notified = 0;
    const store = new SqliteMessageStore(stores.db, () => {
      notified += 1;
    });
    await store.insertMessage(makeMessage({ messageId: 'msg_a' }), undefined, T0);

    await store.cancelMessages({ messageIds: ['msg_unknown'] }, T0);
    expect(notified).toBe(0);
    await store.cancelMessages({ messageIds: ['msg_a'] }, T0);
    expect(notified).toBe(1);
  });
});
