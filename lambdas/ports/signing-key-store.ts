import type { SigningKeys } from '../core/signing';

/** Where the signing keys live, so a rotation outlives a restart. */
export type SigningKeyStore = {
  getKeys(): Promise<SigningKeys>;
  /** Replaces the pair atomically. */
  saveKeys(keys: SigningKeys): Promise<void>;
};
