import { NotFoundError } from '../../lambdas/core/errors';
import type { Message } from '../../lambdas/core/message';
import {
  canceledSettlement,
  cancelMessage,
  cancelMessages,
  destinationHostAndPath,
  getPendingMessage,
} from '../../lambdas/core/messages';
import type { MessageFilter } from '../../lambdas/ports/listing';
import type { AttemptSettlement, MessageStore } from '../../lambdas/ports/message-store';
import { fixedClock, makeMessage, T0 } from '../helpers/messages';
import {
  callbackMessage,
  deadLetterOf,
  deliveredSettlement,
  failedSettlement,
  retrySettlement,
} from '../helpers/settlements';

/** A MessageStore that records cancels and answers them with `cancelled`. */
function cancelRecorder(cancelled: number, pending?: Message) {
  const calls: { filter: MessageFilter; nowMs: number }[] = [];
  const store = {
    cancelMessages: async (filter: MessageFilter, nowMs: number) => {
      calls.push({ filter, nowMs });
      return cancelled;
    },
    getPendingMessage: async () => pending,
  } as unknown as MessageStore;
  return { calls, deps: { store, clock: fixedClock(T0 + 42) } };
}

describe('core/messages', () => {
  describe('getPendingMessage', () => {
    it('returns the pending message', async () => {
      const message = makeMessage();
      const { deps } = cancelRecorder(0, message);

      expect(await getPendingMessage(deps, 'msg_test')).toBe(message);
    });

    it('throws a 404 naming the id when there is none', async () => {
      const { deps } = cancelRecorder(0);

      const error = await getPendingMessage(deps, 'msg_gone').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).message).toContain('"msg_gone"');
    });
  });

  describe('cancelMessage', () => {
    it('cancels by id at the clock time and returns 1', async () => {
      const { deps, calls } = cancelRecorder(1);

      expect(await cancelMessage(deps, 'msg_a')).toBe(1);
      expect(calls).toEqual([{ filter: { messageIds: ['msg_a'] }, nowMs: T0 + 42 }]);
    });

    it('throws a 404 when nothing was canceled', async () => {
      const { deps } = cancelRecorder(0);

      await expect(cancelMessage(deps, 'msg_a')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('cancelMessages', () => {
    it('selects by messageIds alone when they are given, ignoring the other filters', async () => {
      const { deps, calls } = cancelRecorder(2);

      const cancelled = await cancelMessages(deps, {
        messageIds: ['msg_a', 'msg_b'],
        topicName: ['orders'],
        fromDate: 5,
      });

      expect(cancelled).toBe(2);
      expect(calls.map((call) => call.filter)).toEqual([{ messageIds: ['msg_a', 'msg_b'] }]);
    });

    it('cancels none, without asking the store, for an empty messageIds list', async () => {
      const { deps, calls } = cancelRecorder(7);

      expect(await cancelMessages(deps, { messageIds: [], topicName: ['orders'] })).toBe(0);
      expect(calls).toEqual([]);
    });

    it('passes filters, and the empty filter (cancel all), through', async () => {
      const { deps, calls } = cancelRecorder(3);

      await cancelMessages(deps, { label: ['x'], toDate: 9 });
      await cancelMessages(deps, {});

      expect(calls.map((call) => call.filter)).toEqual([{ label: ['x'], toDate: 9 }, {}]);
    });
  });

  describe('canceledSettlement', () => {
    const message = makeMessage({ messageId: 'msg_a' });
    const states = (settlement: AttemptSettlement) =>
      settlement.events.map((event) => `${event.state}@${event.time - T0}`);

    it('turns a retry into CANCELED: the RETRY event is replaced, the callback kept', async () => {
      const callback = callbackMessage(message, 'msg_cb', 'callback');
      const settlement = { ...retrySettlement(message, T0 + 5), callbacks: [callback] };

      const canceled = canceledSettlement(settlement);

      expect(canceled.outcome).toEqual({ kind: 'canceled' });
      expect(states(canceled)).toEqual(['ACTIVE@5', 'ERROR@5', 'CANCELED@5']);
      expect(canceled.callbacks).toEqual([callback]);
      expect(canceled.events.at(-1)).toEqual({
        time: T0 + 5,
        messageId: 'msg_a',
        url: message.url,
        state: 'CANCELED',
      });
    });

    it('turns a failure into CANCELED: no dead letter, no failure callback', async () => {
      const callback = callbackMessage(message, 'msg_cb', 'callback');
      const failureCallback = callbackMessage(message, 'msg_fcb', 'failure-callback');
      const settlement = failedSettlement(message, deadLetterOf(message, '9-0', T0 + 9), [
        callback,
        failureCallback,
      ]);

      const canceled = canceledSettlement(settlement);

      expect(canceled.outcome).toEqual({ kind: 'canceled' });
      expect(states(canceled)).toEqual(['ACTIVE@9', 'ERROR@9', 'CANCELED@9']);
      expect(canceled.callbacks).toEqual([callback]);
    });

    it('leaves a delivered attempt as it is', async () => {
      const settlement = deliveredSettlement(message);

      expect(canceledSettlement(settlement)).toBe(settlement);
    });
  });

  describe('destinationHostAndPath', () => {
    it.each([
      ['https://example.com/a/b?x=1', 'example.com', '/a/b'],
      ['http://127.0.0.1:8080/', '127.0.0.1:8080', '/'],
      ['https://example.com:443/x', 'example.com', '/x'],
      ['not a url', '', ''],
    ])('%s -> host %s, path %s', (url, host, path) => {
      expect(destinationHostAndPath(url)).toEqual({ host, path });
    });
  });
});
