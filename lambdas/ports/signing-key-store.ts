import type { SigningKeys } from '../core/signing';

/** Where the signing keys live, so a rotation outlives a restart. */
export type SigningKeyStore = {
  /** The keys saved by the last rotation, or undefined when none was ever saved. */
  getKeys(): Promise<SigningKeys | undefined>;
  /** Replaces the pair atomically. */
  saveKeys(keys: SigningKeys): Promise<void>;
};
