import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** A finished copy of the database, in a file of its own until `discard` removes it. */
export type BackupFile = {
  readonly path: string;
  readonly bytes: number;
  discard(): void;
};

const BACKUP_PREFIX = 'backup-';
const BACKUP_SUFFIX = '.db.partial';
/** Pages copied per event-loop turn: 400 KiB, a fraction of a millisecond of work. */
const PAGES_PER_STEP = 100;

/**
 * Online backups of the embedded database, with SQLite's backup API. The database is opened
 * with an exclusive lock, so no other process can read it while the server runs: the copy is
 * made by the server's own connection, a few pages per event-loop turn, so publishes and
 * deliveries go on meanwhile. A write made by the same connection during the copy is carried
 * into it, so the copy is consistent as of the moment it completes and holds every message
 * acknowledged before then.
 */
export class SqliteBackup {
  readonly #db: Database.Database;
  readonly #dir: string;

  /**
   * @param dir where copies are made before they are handed out: the data directory, which is
   *   on the database's own file system. Copies a crash left behind are removed here.
   */
  constructor(db: Database.Database, dir: string) {
    this.#db = db;
    this.#dir = dir;
    for (const name of readdirSync(dir)) {
      if (name.startsWith(BACKUP_PREFIX) && name.endsWith(BACKUP_SUFFIX)) {
        rmSync(join(dir, name), { force: true });
      }
    }
  }

  /** Copies the database into a new file. */
  async copy(): Promise<BackupFile> {
    const path = join(this.#dir, `${BACKUP_PREFIX}${randomUUID()}${BACKUP_SUFFIX}`);
    const discard = () => rmSync(path, { force: true });
    try {
      await this.#db.backup(path, { progress: () => PAGES_PER_STEP });
      // The copy carries the live database's WAL mode, in which even a read-only open leaves
      // -wal and -shm files beside it; in rollback mode it is one self-contained file (the
      // server puts it back in WAL mode when it opens it).
      const copy = new Database(path);
      copy.pragma('journal_mode = DELETE');
      copy.close();
      return { path, bytes: statSync(path).size, discard };
    } catch (error) {
      discard();
      throw error;
    }
  }
}
