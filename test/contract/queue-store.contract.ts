import type { MessageStore } from '../../lambdas/ports/message-store';
import type { QueueStore } from '../../lambdas/ports/queue-store';
import { makeMessage, T0 } from '../helpers/messages';

export type QueueStoreFixture = {
  queues: QueueStore;
  messages: MessageStore;
  cleanup(): Promise<void>;
};

const LATER = T0 + 60_000;

/** The QueueStore port's behaviour, run against every adapter. */
export function describeQueueStoreContract(
  name: string,
  makeFixture: () => Promise<QueueStoreFixture>,
): void {
  describe(`QueueStore contract: ${name}`, () => {
    let fixture: QueueStoreFixture;
    beforeEach(async () => {
      fixture = await makeFixture();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates a queue with parallelism 1, not paused, on ensureQueue', async () => {
      await fixture.queues.ensureQueue('q1', T0);

      expect(await fixture.queues.getQueue('q1')).toEqual({
        name: 'q1',
        createdAt: T0,
        updatedAt: T0,
        parallelism: 1,
        paused: false,
        lag: 0,
      });
    });

    it('never changes an existing queue on ensureQueue', async () => {
      await fixture.queues.upsertQueue('q1', { parallelism: 4, paused: true }, T0);

      await fixture.queues.ensureQueue('q1', LATER);

      expect(await fixture.queues.getQueue('q1')).toMatchObject({
        parallelism: 4,
        paused: true,
        updatedAt: T0,
      });
    });

    it('keeps settings left out of an upsert and moves updatedAt only', async () => {
      await fixture.queues.upsertQueue('q1', { parallelism: 4 }, T0);

      await fixture.queues.upsertQueue('q1', { paused: true }, LATER);

      expect(await fixture.queues.getQueue('q1')).toMatchObject({
        parallelism: 4,
        paused: true,
        createdAt: T0,
        updatedAt: LATER,
      });
    });

    it('lists queues by name, and an empty list when there are none', async () => {
      expect(await fixture.queues.listQueues()).toEqual([]);
      await fixture.queues.ensureQueue('b', T0);
      await fixture.queues.ensureQueue('a', T0);

      expect((await fixture.queues.listQueues()).map((queue) => queue.name)).toEqual(['a', 'b']);
    });

    it('returns undefined and false for a queue that does not exist', async () => {
      expect(await fixture.queues.getQueue('missing')).toBeUndefined();
      expect(await fixture.queues.deleteQueue('missing', T0)).toBe(false);
    });

    it('counts undelivered messages as lag, and stops counting a delivered one', async () => {
      await fixture.queues.ensureQueue('q1', T0);
      const first = makeMessage({ messageId: 'msg_1', queueName: 'q1' });
      await fixture.messages.insertMessage(first, undefined, T0);
      await fixture.messages.insertMessage(
        makeMessage({ messageId: 'msg_2', queueName: 'q1' }),
        undefined,
        T0,
      );
      const lagBefore = (await fixture.queues.getQueue('q1'))?.lag;

      await fixture.messages.settleAttempt({
        message: first,
        retried: 0,
        outcome: { kind: 'delivered' },
        events: [],
        callbacks: [],
      });

      expect(lagBefore).toBe(2);
      expect((await fixture.queues.getQueue('q1'))?.lag).toBe(1);
    });

    it('cancels waiting messages when the queue is deleted', async () => {
      await fixture.queues.ensureQueue('q1', T0);
      await fixture.messages.insertMessage(
        makeMessage({ messageId: 'msg_1', queueName: 'q1' }),
        undefined,
        T0,
      );

      const deleted = await fixture.queues.deleteQueue('q1', LATER);

      expect(deleted).toBe(true);
      expect(await fixture.queues.getQueue('q1')).toBeUndefined();
      expect(await fixture.messages.getMessage('msg_1')).toBeUndefined();
    });
  });
}
