import fc from 'fast-check';
import type {
  FlowControlSettings,
  PendingConfiguration,
  RateLimit,
  RateStart,
} from '../../lambdas/core/flow-control-limits';
import {
  admit,
  effectiveLimits,
  rateAllowance,
  settleCarriedValues,
} from '../../lambdas/core/flow-control-limits';

const SECOND_MS = 1_000;
const T = 1_700_000_000_000;

function config(
  fields: { parallelism?: number; rate?: RateLimit },
  newestCreatedAt = T,
): PendingConfiguration {
  return { ...fields, pending: 1, newestCreatedAt };
}

const FIVE_PER_SECOND: RateLimit = { max: 5, periodMs: SECOND_MS };

describe('core/flow-control-limits', () => {
  describe('Function: effectiveLimits', () => {
    it('applies the highest parallelism and the fastest rate among the pending configurations', () => {
      const limits = effectiveLimits({}, [
        config({ parallelism: 2, rate: { max: 10, periodMs: 60 * SECOND_MS } }),
        config({ parallelism: 5 }),
        config({ rate: FIVE_PER_SECOND }),
      ]);

      // 5 per second is faster than 10 per minute.
      expect(limits).toEqual({ parallelism: 5, rate: FIVE_PER_SECOND });
    });

    it('breaks a tie of rate per period with the larger burst', () => {
      const burst = { max: 300, periodMs: 60 * SECOND_MS };
      expect(
        effectiveLimits({}, [config({ rate: FIVE_PER_SECOND }), config({ rate: burst })]).rate,
      ).toEqual(burst);
    });

    it('leaves a key unlimited in what none of its messages sets', () => {
      expect(effectiveLimits({}, [config({ parallelism: 1 })])).toEqual({ parallelism: 1 });
      expect(effectiveLimits({}, [])).toEqual({});
    });

    it('lets a pinned value override every message, each field on its own', () => {
      const settings: FlowControlSettings = { pinnedParallelism: 1 };
      expect(
        effectiveLimits(settings, [config({ parallelism: 9, rate: FIVE_PER_SECOND })]),
      ).toEqual({ parallelism: 1, rate: FIVE_PER_SECOND });
    });
  });

  describe('Function: settleCarriedValues', () => {
    const carried: FlowControlSettings = {
      carriedParallelism: { value: 1, since: T },
      carriedRate: { value: FIVE_PER_SECOND, since: T },
    };

    it('keeps an unpinned value while only messages from before the unpin are pending', () => {
      const configurations = [
        config({ parallelism: 4, rate: { max: 50, periodMs: SECOND_MS } }, T - 1),
      ];
      const settings = settleCarriedValues(carried, configurations);

      expect(settings).toBe(carried);
      expect(effectiveLimits(settings, configurations)).toEqual({
        parallelism: 1,
        rate: FIVE_PER_SECOND,
      });
    });

    it('keeps it while newer messages bring the same value', () => {
      expect(
        settleCarriedValues(carried, [config({ parallelism: 1, rate: FIVE_PER_SECOND }, T + 5)]),
      ).toBe(carried);
    });

    it('drops it once a message published after the unpin brings a different one', () => {
      const settings = settleCarriedValues(carried, [
        config({ parallelism: 3, rate: FIVE_PER_SECOND }, T + 5),
      ]);

      expect(settings).toEqual({ carriedRate: { value: FIVE_PER_SECOND, since: T } });
    });
  });

  describe('Function: rateAllowance', () => {
    it('counts the starts in (now - period, now]', () => {
      const starts: RateStart[] = [
        { at: T - SECOND_MS, count: 4 },
        { at: T - SECOND_MS + 1, count: 2 },
        { at: T, count: 1 },
      ];
      // The 4 at exactly now - period have left the window.
      expect(rateAllowance(starts, FIVE_PER_SECOND, T)).toEqual({ available: 2 });
    });

    it('says when the next slot frees once the window is full', () => {
      const starts: RateStart[] = [
        { at: T, count: 3 },
        { at: T + 300, count: 2 },
      ];
      expect(rateAllowance(starts, FIVE_PER_SECOND, T + 500)).toEqual({
        available: 0,
        freesAt: T + SECOND_MS,
      });
      expect(rateAllowance(starts, FIVE_PER_SECOND, T + SECOND_MS)).toEqual({ available: 3 });
    });

    it('waits for enough starts to leave when a lower limit was pinned over them', () => {
      const starts: RateStart[] = [
        { at: T, count: 1 },
        { at: T + 100, count: 1 },
        { at: T + 200, count: 1 },
      ];
      expect(rateAllowance(starts, { max: 1, periodMs: SECOND_MS }, T + 300)).toEqual({
        available: 0,
        freesAt: T + 200 + SECOND_MS,
      });
    });

    it('never lets more than max start in any window of one period (property)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 2_000 }),
          fc.array(
            fc.record({
              gap: fc.integer({ min: 0, max: 700 }),
              want: fc.integer({ min: 0, max: 6 }),
            }),
            {
              maxLength: 60,
            },
          ),
          (max, periodMs, steps) => {
            const rate = { max, periodMs };
            const starts: RateStart[] = [];
            let now = T;
            for (const { gap, want } of steps) {
              now += gap;
              const { available, freesAt } = rateAllowance(starts, rate, now);
              if (available === 0) {
                // The promised time really frees a slot, and no earlier millisecond does.
                expect(freesAt).toBeGreaterThan(now);
                expect(rateAllowance(starts, rate, freesAt!).available).toBeGreaterThan(0);
                expect(rateAllowance(starts, rate, freesAt! - 1).available).toBe(0);
              }
              const count = Math.min(want, available);
              if (count > 0) starts.push({ at: now, count });
            }
            const times = starts.flatMap((start) => Array(start.count).fill(start.at) as number[]);
            for (let i = 0; i + max < times.length; i += 1) {
              expect(times[i + max]! - times[i]!).toBeGreaterThanOrEqual(periodMs);
            }
          },
        ),
      );
    });
  });

  describe('Function: admit', () => {
    const base = {
      settings: {},
      limits: { parallelism: 2, rate: FIVE_PER_SECOND },
      inFlight: 0,
      starts: [] as RateStart[],
      globalAvailable: Number.POSITIVE_INFINITY,
    };

    it('allows the smallest of what parallelism, rate and the global cap leave', () => {
      expect(admit(base, T)).toEqual({ allowed: 2 });
      expect(admit({ ...base, inFlight: 1 }, T)).toEqual({ allowed: 1 });
      expect(admit({ ...base, starts: [{ at: T, count: 4 }] }, T)).toEqual({ allowed: 1 });
      expect(admit({ ...base, globalAvailable: 1 }, T)).toEqual({ allowed: 1 });
      expect(admit({ ...base, limits: {} }, T).allowed).toBe(Number.POSITIVE_INFINITY);
    });

    it('says why nothing may start, and when the rate frees a slot', () => {
      expect(admit({ ...base, settings: { paused: true } }, T)).toEqual({
        allowed: 0,
        blockedBy: 'paused',
      });
      expect(admit({ ...base, inFlight: 2 }, T)).toEqual({ allowed: 0, blockedBy: 'parallelism' });
      expect(admit({ ...base, starts: [{ at: T - 10, count: 5 }] }, T)).toEqual({
        allowed: 0,
        blockedBy: 'rate',
        rateFreesAt: T - 10 + SECOND_MS,
      });
      expect(admit({ ...base, globalAvailable: 0 }, T)).toEqual({
        allowed: 0,
        blockedBy: 'global',
      });
    });
  });
});
