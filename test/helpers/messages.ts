import type { Message } from '../../lambdas/core/message';

/** 2025-01-01T00:00:00Z: a fixed "now" for tests that use a fake clock. */
export const T0 = Date.UTC(2025, 0, 1);

const encoder = new TextEncoder();

/** A minimal valid message; override what the test is about. */
export function makeMessage(overrides: Partial<Message> = {}): Message {
  return {
    messageId: 'msg_test',
    url: 'https://example.com/hook',
    method: 'POST',
    header: { 'Content-Type': ['application/json'] },
    body: encoder.encode('{"hello":"world"}'),
    maxRetries: 3,
    timeoutMs: 30_000,
    notBefore: T0,
    createdAt: T0,
    labels: [],
    ...overrides,
  };
}

/** A clock the test moves by hand. */
export function fixedClock(startMs: number = T0): {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
} {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    set: (ms) => {
      nowMs = ms;
    },
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

/**
 * A clock that runs at real speed from `startMs`, for code that sleeps on real timers (the
 * schedule runner, the delivery worker) while the test picks what time it is: a minute
 * boundary can be made a second away. `set` jumps; code already asleep does not notice.
 */
export function movingClock(startMs: number): { now(): number; set(ms: number): void } {
  let offset = startMs - Date.now();
  return {
    now: () => Date.now() + offset,
    set: (ms) => {
      offset = ms - Date.now();
    },
  };
}

/** Predictable ids: `msg_1`, `msg_2`, …; `scd_1`, …; `jwt_1`, …; dlq ids as QStash's `<ms>-<n>`. */
export function sequentialIds(): {
  messageId(): string;
  scheduleId(): string;
  dlqId(nowMs: number): string;
  jwtId(): string;
} {
  let messages = 0;
  let schedules = 0;
  let jwts = 0;
  let dlqs = 0;
  return {
    messageId: () => `msg_${++messages}`,
    scheduleId: () => `scd_${++schedules}`,
    dlqId: (nowMs) => `${nowMs}-${dlqs++}`,
    jwtId: () => `jwt_${++jwts}`,
  };
}
