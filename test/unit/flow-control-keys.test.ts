import { BadRequestError } from '../../lambdas/core/errors';
import {
  flowControlInfo,
  pinnedSettings,
  unpinnedSettings,
} from '../../lambdas/core/flow-control-keys';
import type { FlowControlKeyRecord } from '../../lambdas/ports/flow-control-store';

const SECOND_MS = 1_000;
const T = 1_700_000_000_000;

function record(overrides: Partial<FlowControlKeyRecord> = {}): FlowControlKeyRecord {
  return {
    key: 'llm',
    settings: {},
    inFlight: 0,
    waiting: 0,
    configurations: [
      {
        parallelism: 3,
        rate: { max: 10, periodMs: 60 * SECOND_MS },
        pending: 2,
        newestCreatedAt: T - 1,
      },
    ],
    starts: [],
    ...overrides,
  };
}

describe('core/flow-control-keys', () => {
  describe('Function: flowControlInfo', () => {
    it('shows the limits in force, the counts and the settings as the SDKs parse them', () => {
      const info = flowControlInfo(
        record({
          inFlight: 2,
          waiting: 7,
          starts: [
            { at: T - 61 * SECOND_MS, count: 9 },
            { at: T - 30 * SECOND_MS, count: 4 },
            { at: T - 10 * SECOND_MS, count: 1 },
          ],
          settings: { paused: true, pinnedParallelism: 1 },
        }),
        T,
      );

      expect(info).toEqual({
        flowControlKey: 'llm',
        waitListSize: 7,
        parallelismMax: 1,
        parallelismCount: 2,
        rateMax: 10,
        rateCount: 5,
        ratePeriod: 60,
        ratePeriodStart: Math.floor((T - 30 * SECOND_MS) / SECOND_MS),
        isPaused: true,
        isPinnedParallelism: true,
        isPinnedRate: false,
      });
    });

    it('shows 0 for what is unlimited, and now as the period start when nothing is counted', () => {
      const info = flowControlInfo(record({ configurations: [] }), T);
      expect(info).toMatchObject({
        parallelismMax: 0,
        rateMax: 0,
        rateCount: 0,
        ratePeriod: 0,
        ratePeriodStart: Math.floor(T / SECOND_MS),
      });
    });
  });

  describe('Function: pinnedSettings', () => {
    it('pins each given field on its own', () => {
      expect(pinnedSettings(record(), { parallelism: 1 })).toEqual({ pinnedParallelism: 1 });
      expect(pinnedSettings(record(), { rate: 2, periodSec: 5 })).toEqual({
        pinnedRate: { max: 2, periodMs: 5 * SECOND_MS },
      });
    });

    it("keeps the key's current period for a rate alone, and its current rate for a period alone", () => {
      expect(pinnedSettings(record(), { rate: 2 })).toEqual({
        pinnedRate: { max: 2, periodMs: 60 * SECOND_MS },
      });
      expect(pinnedSettings(record(), { periodSec: 1 })).toEqual({
        pinnedRate: { max: 10, periodMs: SECOND_MS },
      });
      expect(pinnedSettings(record({ configurations: [] }), { rate: 2 })).toEqual({
        pinnedRate: { max: 2, periodMs: SECOND_MS },
      });
    });

    it('refuses a period alone for a key without a rate', () => {
      expect(() => pinnedSettings(record({ configurations: [] }), { periodSec: 1 })).toThrow(
        BadRequestError,
      );
    });

    it('replaces what an earlier unpin carried over', () => {
      const carried = record({ settings: { carriedParallelism: { value: 1, since: T } } });
      expect(pinnedSettings(carried, { parallelism: 4 })).toEqual({ pinnedParallelism: 4 });
      expect(pinnedSettings(carried, { rate: 4 })).toEqual({
        carriedParallelism: { value: 1, since: T },
        pinnedRate: { max: 4, periodMs: 60 * SECOND_MS },
      });
    });
  });

  describe('Function: unpinnedSettings', () => {
    const pinned = {
      paused: true,
      pinnedParallelism: 1,
      pinnedRate: { max: 2, periodMs: SECOND_MS },
    };

    it('carries an unpinned value over from now, and keeps what stays pinned', () => {
      expect(unpinnedSettings(pinned, { parallelism: true, rate: false }, T)).toEqual({
        paused: true,
        carriedParallelism: { value: 1, since: T },
        pinnedRate: { max: 2, periodMs: SECOND_MS },
      });
      expect(unpinnedSettings(pinned, { parallelism: true, rate: true }, T)).toEqual({
        paused: true,
        carriedParallelism: { value: 1, since: T },
        carriedRate: { value: { max: 2, periodMs: SECOND_MS }, since: T },
      });
    });

    it('changes nothing for a field that was not pinned', () => {
      expect(unpinnedSettings({}, { parallelism: true, rate: true }, T)).toEqual({});
    });
  });
});
