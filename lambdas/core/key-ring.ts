import { randomBytes } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { SigningKeyStore } from '../ports/signing-key-store';
import type { SigningKeys } from './signing';

const KEY_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const KEY_RANDOM_CHARS = 28;

/** A fresh key in QStash's format: `sig_` and 28 base58 characters. */
export function generateSigningKey(): string {
  let key = 'sig_';
  // Rejection sampling keeps every character uniformly likely: the key is a secret.
  while (key.length < 4 + KEY_RANDOM_CHARS) {
    for (const byte of randomBytes(KEY_RANDOM_CHARS)) {
      if (byte < 232 && key.length < 4 + KEY_RANDOM_CHARS) key += KEY_ALPHABET[byte % 58];
    }
  }
  return key;
}

/** Re-reading the store now and then, for runtimes where another instance may rotate. */
export type KeyRefresh = { readonly clock: Clock; readonly everyMs: number };

/**
 * The signing keys in use, kept in memory for the delivery hot path and in a store so a
 * rotation outlives a restart. Rotation follows QStash: current := next, next := a new key,
 * so receivers that already know `next` keep verifying.
 *
 * With `refresh`, the keys are re-read from the store in the background at most every
 * `everyMs`, so that when one instance rotates (an AWS API function), the others (delivery
 * functions) sign with the new current key within that time rather than at their next cold start.
 */
export class KeyRing {
  #keys: SigningKeys;
  readonly #store: SigningKeyStore;
  readonly #refresh: KeyRefresh | undefined;
  #loadedAt: number;
  #refreshing = false;

  private constructor(store: SigningKeyStore, keys: SigningKeys, refresh: KeyRefresh | undefined) {
    this.#store = store;
    this.#keys = keys;
    this.#refresh = refresh;
    this.#loadedAt = refresh?.clock.now() ?? 0;
  }

  /**
   * Uses the stored keys when there are some (a rotation saved them, or the deployment did),
   * else `configured`; fails when there are neither.
   */
  static async load(
    store: SigningKeyStore,
    options: { readonly configured?: SigningKeys; readonly refresh?: KeyRefresh } = {},
  ): Promise<KeyRing> {
    const keys = (await store.getKeys()) ?? options.configured;
    if (!keys) throw new Error('no signing keys: the key store is empty and none are configured');
    return new KeyRing(store, keys, options.refresh);
  }

  /** The keys to sign with now; never waits for the store (a due refresh runs in the background). */
  current(): SigningKeys {
    const refresh = this.#refresh;
    if (refresh && !this.#refreshing && refresh.clock.now() - this.#loadedAt >= refresh.everyMs) {
      this.#refreshing = true;
      this.#store
        .getKeys()
        .then(
          (keys) => {
            if (keys) this.#keys = keys;
          },
          // The store could not be read: keep signing with the keys we have, and try again later.
          () => undefined,
        )
        .finally(() => {
          this.#loadedAt = refresh.clock.now();
          this.#refreshing = false;
        });
    }
    return this.#keys;
  }

  async rotate(): Promise<SigningKeys> {
    const rotated = { current: this.#keys.next, next: generateSigningKey() };
    await this.#store.saveKeys(rotated);
    this.#keys = rotated;
    return rotated;
  }
}
