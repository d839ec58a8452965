import type { FlowControl } from '../../lambdas/core/flow-control';
import { flowControlInfo } from '../../lambdas/core/flow-control-keys';
import type { FlowControlStore } from '../../lambdas/ports/flow-control-store';
import { makeMessage, T0 } from '../helpers/messages';
import {
  deadLetterOf,
  deliveredSettlement,
  failedSettlement,
  retrySettlement,
} from '../helpers/settlements';
import type { StoresUnderTest } from './stores-under-test';

const SECOND_MS = 1_000;
const HOUR_MS = 3_600_000;

/** A runtime's stores with its flow-control keys, which its message store keeps counting. */
export type FlowControlStoresUnderTest = StoresUnderTest & {
  readonly flowControl: FlowControlStore;
};

/**
 * FlowControlStore: what a key shows as its messages come, start, settle and go, and the
 * settings the management API changes. Written against the ports only (the message store and
 * `startAttempt` make the attempts), so every adapter runs it.
 */
export function describeFlowControlStoreContract(
  name: string,
  makeStores: () => Promise<FlowControlStoresUnderTest>,
): void {
  describe(`${name} (FlowControlStore contract)`, () => {
    let stores: FlowControlStoresUnderTest;
    let flowControl: FlowControlStore;

    beforeEach(async () => {
      stores = await makeStores();
      flowControl = stores.flowControl;
    });
    afterEach(async () => {
      await stores.cleanup();
    });

    const publish = async (messageId: string, control: FlowControl, notBefore = T0) => {
      const message = makeMessage({ messageId, flowControl: control, notBefore, createdAt: T0 });
      await stores.messages.insertMessage(message, undefined, T0);
      return message;
    };
    const info = async (key: string, nowMs = T0) => {
      const record = await flowControl.getKey(key, nowMs);
      return record && flowControlInfo(record, nowMs);
    };
    const LLM = { key: 'llm', parallelism: 2, rate: 10, periodSec: 60 };

    it('knows a key from its first pending message, with its waitlist and limits', async () => {
      expect(await flowControl.getKey('llm', T0)).toBeUndefined();
      await publish('msg_1', LLM);
      await publish('msg_2', LLM);
      await publish('msg_later', LLM, T0 + HOUR_MS);

      expect(await info('llm')).toEqual({
        flowControlKey: 'llm',
        waitListSize: 2,
        parallelismMax: 2,
        parallelismCount: 0,
        rateMax: 10,
        rateCount: 0,
        ratePeriod: 60,
        ratePeriodStart: Math.floor(T0 / SECOND_MS),
        isPaused: false,
        isPinnedParallelism: false,
        isPinnedRate: false,
      });
    });

    it('counts an attempt in flight and against the rate from its start until it settles', async () => {
      const first = await publish('msg_1', LLM);
      await publish('msg_2', LLM, T0 + HOUR_MS);

      await stores.startAttempt('msg_1', T0 + 5);
      expect(await info('llm', T0 + 5)).toMatchObject({
        waitListSize: 0,
        parallelismCount: 1,
        rateCount: 1,
        ratePeriodStart: Math.floor((T0 + 5) / SECOND_MS),
      });
      expect(await flowControl.inFlightTotal()).toBe(1);

      await stores.messages.settleAttempt(deliveredSettlement(first, T0 + 6));
      expect(await info('llm', T0 + 6)).toMatchObject({ parallelismCount: 0, rateCount: 1 });
      expect(await flowControl.inFlightTotal()).toBe(0);
      // The start leaves the rate's window one period after it was made.
      expect(await info('llm', T0 + 5 + 60 * SECOND_MS)).toMatchObject({ rateCount: 0 });
    });

    it('applies the highest configuration while old and new messages are pending', async () => {
      const old = await publish('msg_old', { key: 'llm', parallelism: 5 });
      await publish('msg_new', { key: 'llm', parallelism: 1 }, T0 + HOUR_MS);
      expect(await info('llm')).toMatchObject({ parallelismMax: 5 });

      await stores.startAttempt('msg_old', T0);
      await stores.messages.settleAttempt(deliveredSettlement(old, T0 + 1));

      expect(await info('llm', T0 + 1)).toMatchObject({ parallelismMax: 1 });
    });

    it('forgets a key once nothing pending, set or counted is left', async () => {
      const delivered = await publish('msg_1', { key: 'fast', parallelism: 1 });
      const failed = await publish('msg_2', { key: 'fast', parallelism: 1 }, T0 + HOUR_MS);
      await stores.startAttempt('msg_1', T0);
      await stores.messages.settleAttempt(deliveredSettlement(delivered, T0 + 1));
      expect(await info('fast', T0 + 1)).toMatchObject({ parallelismCount: 0 });

      await stores.messages.settleAttempt(
        failedSettlement(failed, deadLetterOf(failed, '1-0', T0 + 2)),
      );

      expect(await flowControl.getKey('fast', T0 + 2)).toBeUndefined();
      expect(await flowControl.listKeys(undefined, T0 + 2)).toEqual([]);
    });

    it('keeps a key whose rate still counts starts, though nothing is pending', async () => {
      const daily = { key: 'daily', rate: 1, periodSec: 86_400 };
      const message = await publish('msg_1', daily);
      await stores.startAttempt('msg_1', T0);
      await stores.messages.settleAttempt(deliveredSettlement(message, T0 + 1));
      expect(await flowControl.getKey('daily', T0 + HOUR_MS)).toBeDefined();

      // The next message of the day finds the start still counted.
      await publish('msg_2', daily);
      expect(await info('daily', T0 + HOUR_MS)).toMatchObject({ rateCount: 1, waitListSize: 1 });
    });

    it('keeps counting a message waiting for its retry as pending, and not in flight', async () => {
      const message = await publish('msg_1', LLM);
      await stores.startAttempt('msg_1', T0);
      await stores.messages.settleAttempt(retrySettlement(message, T0 + 1));

      expect(await info('llm', T0 + 1)).toMatchObject({
        parallelismCount: 0,
        parallelismMax: 2,
        // Due again only at T0 + 1 + 1s.
        waitListSize: 0,
      });
      expect(await info('llm', T0 + 2 * SECOND_MS)).toMatchObject({ waitListSize: 1 });
    });

    it('drops a canceled message from the waitlist', async () => {
      await publish('msg_1', LLM);
      await publish('msg_2', LLM);
      await stores.messages.cancelMessages({ messageIds: ['msg_1'] }, T0);

      expect(await info('llm')).toMatchObject({ waitListSize: 1 });
    });

    it('changes settings atomically, creating a key that has no message yet', async () => {
      await flowControl.changeKey(
        'later',
        (record) => {
          expect(record).toMatchObject({ key: 'later', inFlight: 0, configurations: [] });
          return { settings: { ...record.settings, paused: true } };
        },
        T0,
      );
      expect(await info('later')).toMatchObject({ isPaused: true, waitListSize: 0 });

      await flowControl.changeKey('later', () => ({ settings: {} }), T0);
      expect(await flowControl.getKey('later', T0)).toBeUndefined();
    });

    it('keeps what a change was refused with: a throwing change writes nothing', async () => {
      await publish('msg_1', LLM);
      await expect(
        flowControl.changeKey(
          'llm',
          () => {
            throw new Error('refused');
          },
          T0,
        ),
      ).rejects.toThrow('refused');
      expect(await info('llm')).toMatchObject({ isPaused: false });
    });

    it('forgets the counted starts on a rate reset', async () => {
      await publish('msg_1', LLM);
      await stores.startAttempt('msg_1', T0);
      await flowControl.changeKey(
        'llm',
        (record) => ({ settings: record.settings, resetRate: true }),
        T0 + 1,
      );

      expect(await info('llm', T0 + 1)).toMatchObject({ rateCount: 0, parallelismCount: 1 });
    });

    it('lists keys by name, filtered by a case-insensitive search', async () => {
      await publish('msg_1', { key: 'Tenant-A', parallelism: 1 });
      await publish('msg_2', { key: 'tenant-b', parallelism: 1 });
      await publish('msg_3', { key: 'other', parallelism: 1 });

      const names = async (search?: string) =>
        (await flowControl.listKeys(search, T0)).map((record) => record.key);
      expect(await names()).toEqual(['Tenant-A', 'other', 'tenant-b']);
      expect(await names('TENANT')).toEqual(['Tenant-A', 'tenant-b']);
      expect(await names('zzz')).toEqual([]);
    });

    it('counts the attempts in flight over every key', async () => {
      await publish('msg_1', { key: 'a', parallelism: 3 });
      await publish('msg_2', { key: 'b', parallelism: 3 }, T0 + 1);
      await stores.startAttempt('msg_1', T0);
      await stores.startAttempt('msg_2', T0 + 1);

      expect(await flowControl.inFlightTotal()).toBe(2);
    });
  });
}
