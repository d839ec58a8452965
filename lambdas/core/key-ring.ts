import { randomBytes } from 'node:crypto';
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

/**
 * The signing keys in use, kept in memory for the delivery hot path and in a store so a
 * rotation outlives a restart. Rotation follows QStash: current := next, next := a new key,
 * so receivers that already know `next` keep verifying.
 */
export class KeyRing {
  #keys: SigningKeys;
  readonly #store: SigningKeyStore;

  private constructor(store: SigningKeyStore, keys: SigningKeys) {
    this.#store = store;
    this.#keys = keys;
  }

  /**
   * Uses the stored keys when there are some (a rotation saved them, or the deployment did),
   * else `configured`; fails when there are neither.
   */
  static async load(store: SigningKeyStore, configured?: SigningKeys): Promise<KeyRing> {
    const keys = (await store.getKeys()) ?? configured;
    if (!keys) throw new Error('no signing keys: the key store is empty and none are configured');
    return new KeyRing(store, keys);
  }

  current(): SigningKeys {
    return this.#keys;
  }

  async rotate(): Promise<SigningKeys> {
    const rotated = { current: this.#keys.next, next: generateSigningKey() };
    await this.#store.saveKeys(rotated);
    this.#keys = rotated;
    return rotated;
  }
}
