import { KeyRing } from '../../lambdas/core/key-ring';
import type { SigningKeys } from '../../lambdas/core/signing';
import type { SigningKeyStore } from '../../lambdas/ports/signing-key-store';

const CONFIGURED: SigningKeys = { current: 'sig_configuredCurrent', next: 'sig_configuredNext' };
const STORED: SigningKeys = { current: 'sig_storedCurrent', next: 'sig_storedNext' };
const REFRESH_MS = 60_000;

function memoryStore(
  initial?: SigningKeys,
): SigningKeyStore & { keys?: SigningKeys; failing: boolean } {
  const store = {
    keys: initial,
    failing: false,
    getKeys: async () => {
      if (store.failing) throw new Error('store unreachable');
      return store.keys;
    },
    saveKeys: async (keys: SigningKeys) => {
      store.keys = keys;
    },
  };
  return store;
}

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Lets the background refresh (a resolved promise chain) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyRing', () => {
  it('prefers the stored keys over the configured ones', async () => {
    const ring = await KeyRing.load(memoryStore(STORED), { configured: CONFIGURED });

    expect(ring.current()).toEqual(STORED);
  });

  it('uses the configured keys when the store has none, and fails when neither has keys', async () => {
    const ring = await KeyRing.load(memoryStore(), { configured: CONFIGURED });

    expect(ring.current()).toEqual(CONFIGURED);
    await expect(KeyRing.load(memoryStore())).rejects.toThrow(/no signing keys/);
  });

  it('rotates: next becomes current, a new next is generated and saved', async () => {
    const store = memoryStore(STORED);
    const ring = await KeyRing.load(store);

    const rotated = await ring.rotate();

    expect(rotated.current).toBe(STORED.next);
    expect(rotated.next).toMatch(/^sig_[1-9A-HJ-NP-Za-km-z]{28}$/);
    expect(store.keys).toEqual(rotated);
    expect(ring.current()).toEqual(rotated);
  });

  it('picks up a rotation saved by another instance once the refresh interval has passed', async () => {
    const store = memoryStore(STORED);
    const clock = manualClock();
    const ring = await KeyRing.load(store, { refresh: { clock, everyMs: REFRESH_MS } });
    const otherInstance = await KeyRing.load(store);
    const rotated = await otherInstance.rotate();

    clock.advance(REFRESH_MS - 1);
    const beforeInterval = ring.current();
    await settle();
    const stillBefore = ring.current();
    clock.advance(1);
    const whileRefreshing = ring.current();
    await settle();

    expect(beforeInterval).toEqual(STORED);
    expect(stillBefore).toEqual(STORED);
    // The refresh never blocks signing: the call that starts it still gets the keys in hand.
    expect(whileRefreshing).toEqual(STORED);
    expect(ring.current()).toEqual(rotated);
  });

  it('keeps signing with the keys it has when the store cannot be read', async () => {
    const store = memoryStore(STORED);
    const clock = manualClock();
    const ring = await KeyRing.load(store, { refresh: { clock, everyMs: REFRESH_MS } });
    store.failing = true;

    clock.advance(REFRESH_MS);
    ring.current();
    await settle();

    expect(ring.current()).toEqual(STORED);
  });

  it('never refreshes without a refresh option', async () => {
    const store = memoryStore(STORED);
    const ring = await KeyRing.load(store);
    store.keys = CONFIGURED;

    await settle();

    expect(ring.current()).toEqual(STORED);
  });
});
