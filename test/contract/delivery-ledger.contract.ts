import type { Message, MessageState } from '../../lambdas/core/message';
import type { ClaimResult, DeliveryLedger } from '../../lambdas/ports/delivery-ledger';
import type { EventLog } from '../../lambdas/ports/event-log';
import type { MessageStore } from '../../lambdas/ports/message-store';
import type { QueueStore } from '../../lambdas/ports/queue-store';
import { makeMessage, T0 } from '../helpers/messages';
import {
  callbackMessage,
  comparable,
  deadLetterOf,
  deliveredSettlement,
  failedSettlement,
  retrySettlement,
} from '../helpers/settlements';

export type LedgerFixture = {
  readonly ledger: DeliveryLedger;
  readonly messages: MessageStore;
  readonly queues: QueueStore;
  readonly events: EventLog;
  cleanup(): Promise<void>;
};

const LEASE_MS = 30_000;
const CONCURRENT_CLAIMS = 8;

/**
 * DeliveryLedger: per-message claims as the AWS delivery function makes them (one SQS record,
 * one id), with due times, leases, cancels and FIFO queue windows. Run by each adapter's test.
 */
export function describeDeliveryLedgerContract(
  name: string,
  makeFixture: () => Promise<LedgerFixture>,
): void {
  describe(`${name} (DeliveryLedger contract)`, () => {
    let fixture: LedgerFixture;
    let ledger: DeliveryLedger;
    let messages: MessageStore;

    beforeEach(async () => {
      fixture = await makeFixture();
      ({ ledger, messages } = fixture);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    const insert = async (...overrides: Partial<Message>[]): Promise<Message[]> => {
      const inserted: Message[] = [];
      for (const override of overrides) {
        const message = makeMessage(override);
        await messages.insertMessage(message, undefined, T0);
        inserted.push(message);
      }
      return inserted;
    };
    const claim = (messageId: string, nowMs = T0) =>
      ledger.claim(messageId, nowMs, nowMs + LEASE_MS);
    const kindOf = async (messageId: string, nowMs = T0) => (await claim(messageId, nowMs)).kind;
    const claimed = (result: ClaimResult) => {
      if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${result.kind}`);
      return { message: comparable(result.message), retried: result.retried };
    };
    const statesOf = async (messageId: string): Promise<MessageState[]> => {
      const page = await fixture.events.listEvents({
        filter: { messageIds: [messageId] },
        count: 100,
        order: 'earliestFirst',
      });
      return page.items.map(({ event }) => event.state);
    };

    describe('claim', () => {
      it('claims a due message, with the message as stored and its attempt number', async () => {
        const [message] = await insert({ messageId: 'msg_a', body: Uint8Array.from([0, 1, 255]) });

        expect(claimed(await claim('msg_a'))).toEqual({ message: comparable(message), retried: 0 });
      });

      it('answers missing for an unknown, a delivered, a failed and a canceled message', async () => {
        const [delivered, failed] = await insert(
          { messageId: 'msg_delivered' },
          { messageId: 'msg_failed' },
          { messageId: 'msg_canceled' },
        );
        await messages.settleAttempt(deliveredSettlement(delivered!));
        await messages.settleAttempt(
          failedSettlement(failed!, deadLetterOf(failed!, '1-0', T0 + 1)),
        );
        await messages.cancelMessages({ messageIds: ['msg_canceled'] }, T0);

        for (const messageId of ['msg_unknown', 'msg_delivered', 'msg_failed', 'msg_canceled']) {
          expect(await claim(messageId, T0 + 10)).toEqual({ kind: 'missing' });
        }
      });

      it('answers not-due, with the due time, until the message is due', async () => {
        await insert({ messageId: 'msg_a', notBefore: T0 + 5_000 });

        expect(await claim('msg_a', T0 + 4_999)).toEqual({ kind: 'not-due', dueAt: T0 + 5_000 });
        expect(await kindOf('msg_a', T0 + 5_000)).toBe('claimed');
      });

      it('claims a retried message once its retry is due, with the next attempt number', async () => {
        const [message] = await insert({ messageId: 'msg_a' });
        claimed(await claim('msg_a', T0));
        await messages.settleAttempt(retrySettlement(message!, T0 + 1));

        expect(await claim('msg_a', T0 + 1_000)).toEqual({ kind: 'not-due', dueAt: T0 + 1_001 });
        expect(claimed(await claim('msg_a', T0 + 1_001)).retried).toBe(1);
      });

      it('answers in-flight while another claim holds the lease', async () => {
        await insert({ messageId: 'msg_a' });
        claimed(await claim('msg_a', T0));

        expect(await claim('msg_a', T0 + LEASE_MS - 1)).toEqual({ kind: 'in-flight' });
      });

      it('takes over a lease that expired (its attempt vanished) without counting it', async () => {
        await insert({ messageId: 'msg_a' });
        claimed(await claim('msg_a', T0));

        const again = await claim('msg_a', T0 + LEASE_MS + 1);

        expect(claimed(again).retried).toBe(0);
      });

      it('gives exactly one of several concurrent claims the message', async () => {
        await insert({ messageId: 'msg_a' });

        const results = await Promise.all(
          Array.from({ length: CONCURRENT_CLAIMS }, () => claim('msg_a', T0)),
        );

        const kinds = results.map((result) => result.kind).sort();
        expect(kinds.filter((kind) => kind === 'claimed')).toHaveLength(1);
        expect(kinds.filter((kind) => kind === 'in-flight')).toHaveLength(CONCURRENT_CLAIMS - 1);
      });

      it('ends CANCELED a message canceled during an attempt that vanished, at the next claim', async () => {
        await insert({ messageId: 'msg_a' });
        claimed(await claim('msg_a', T0));
        await messages.cancelMessages({ messageIds: ['msg_a'] }, T0 + 10);

        expect(await claim('msg_a', T0 + 20)).toEqual({ kind: 'in-flight' });
        expect(await claim('msg_a', T0 + LEASE_MS + 1)).toEqual({ kind: 'missing' });
        expect(await messages.getMessage('msg_a')).toBeUndefined();
        expect(await statesOf('msg_a')).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
      });
    });

    describe('release', () => {
      it('gives a claimed message back uncounted: the next claim gets it with the same number', async () => {
        const [message] = await insert({ messageId: 'msg_a' });
        claimed(await claim('msg_a', T0));
        await messages.settleAttempt(retrySettlement(message!, T0));
        claimed(await claim('msg_a', T0 + 1_000));

        await ledger.release('msg_a');

        expect(claimed(await claim('msg_a', T0 + 1_001)).retried).toBe(1);
      });

      it('changes nothing for a message that is not claimed, or not there', async () => {
        await insert({ messageId: 'msg_a' });

        await ledger.release('msg_a');
        await ledger.release('msg_unknown');

        expect(await kindOf('msg_a')).toBe('claimed');
      });
    });

    describe('FIFO queues', () => {
      const queued = (messageId: string, overrides: Partial<Message> = {}) => ({
        messageId,
        queueName: 'q1',
        ...overrides,
      });

      it('starts one message at a time by default, in publish order', async () => {
        await fixture.queues.ensureQueue('q1', T0);
        const [first] = await insert(queued('msg_1'), queued('msg_2'), queued('msg_3'));

        expect(await claim('msg_2')).toEqual({ kind: 'blocked', reason: 'queue-window' });
        expect(await kindOf('msg_1')).toBe('claimed');
        expect(await kindOf('msg_3')).toBe('blocked');
        await messages.settleAttempt(deliveredSettlement(first!));

        expect(await kindOf('msg_3')).toBe('blocked');
        expect(await kindOf('msg_2')).toBe('claimed');
      });

      it('starts up to parallelism messages at once', async () => {
        await fixture.queues.upsertQueue('q1', { parallelism: 2 }, T0);
        await insert(queued('msg_1'), queued('msg_2'), queued('msg_3'));

        expect(await kindOf('msg_2')).toBe('claimed');
        expect(await kindOf('msg_1')).toBe('claimed');
        expect(await claim('msg_3')).toEqual({ kind: 'blocked', reason: 'queue-window' });
      });

      it('blocks every message of a paused queue until it is resumed', async () => {
        await fixture.queues.upsertQueue('q1', { paused: true }, T0);
        await insert(queued('msg_1'));

        expect(await claim('msg_1')).toEqual({ kind: 'blocked', reason: 'queue-paused' });
        await fixture.queues.upsertQueue('q1', { paused: false }, T0 + 1);
        expect(await kindOf('msg_1')).toBe('claimed');
      });

      it('keeps a retried message in its place: the next one waits for it', async () => {
        await fixture.queues.ensureQueue('q1', T0);
        const [first] = await insert(queued('msg_1'), queued('msg_2'));
        claimed(await claim('msg_1'));
        await messages.settleAttempt(retrySettlement(first!, T0));

        expect(await kindOf('msg_2', T0 + 10)).toBe('blocked');
        expect(await claim('msg_1', T0 + 10)).toEqual({ kind: 'not-due', dueAt: T0 + 1_000 });
      });

      it("holds a message's place for its callbacks until they are done", async () => {
        await fixture.queues.ensureQueue('q1', T0);
        const [first] = await insert(queued('msg_1'), queued('msg_2'));
        claimed(await claim('msg_1'));
        const callback = callbackMessage(first!, 'msg_cb', 'callback');
        await messages.settleAttempt({ ...deliveredSettlement(first!), callbacks: [callback] });

        expect(await kindOf('msg_2', T0 + 10)).toBe('blocked');
        expect(await kindOf('msg_cb', T0 + 10)).toBe('claimed');
        await messages.settleAttempt(deliveredSettlement(callback, T0 + 11));
        expect(await kindOf('msg_2', T0 + 12)).toBe('claimed');
      });

      it('moves on past a failed message and past a canceled one', async () => {
        await fixture.queues.ensureQueue('q1', T0);
        const [first] = await insert(queued('msg_1'), queued('msg_2'), queued('msg_3'));
        claimed(await claim('msg_1'));
        await messages.settleAttempt(failedSettlement(first!, deadLetterOf(first!, '1-0', T0)));
        await messages.cancelMessages({ messageIds: ['msg_2'] }, T0 + 1);

        expect(await kindOf('msg_3', T0 + 2)).toBe('claimed');
      });
    });
  });
}
