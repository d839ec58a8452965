import type Database from 'better-sqlite3';
import type { SigningKeys } from '../../core/signing';
import type { SigningKeyStore } from '../../ports/signing-key-store';

const SETTING = 'signing_keys';

/** Rotated signing keys in the `settings` table, beside the messages they sign. */
export class SqliteSigningKeyStore implements SigningKeyStore {
  readonly #get;
  readonly #put;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.#put = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  async getKeys(): Promise<SigningKeys | undefined> {
    const row = this.#get.get(SETTING) as { value: string } | undefined;
    return row && (JSON.parse(row.value) as SigningKeys);
  }

  async saveKeys(keys: SigningKeys): Promise<void> {
    this.#put.run(SETTING, JSON.stringify({ current: keys.current, next: keys.next }));
  }
}
