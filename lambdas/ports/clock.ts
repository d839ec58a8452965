/** Time as the core sees it; injected so tests can run schedules without waiting. */
export type Clock = { now(): number };

export const systemClock: Clock = { now: () => Date.now() };
