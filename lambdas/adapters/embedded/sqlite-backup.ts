import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BUSY_TIMEOUT_MS, DATABASE_FILE } from './sqlite-database';

/** A finished copy of the database, in a file of its own until `discard` removes it. */
export type BackupFile = {
  readonly path: string;
  readonly bytes: number;
  discard(): void;
};

const BACKUP_PREFIX = 'backup-';
const BACKUP_SUFFIX = '.db.partial';

/**
 * The copy, on a thread of its own with a connection of its own: one backup step for every page,
 * which reads the database as of its start however the other connections write meanwhile (a
 * copy made in many steps starts over whenever another connection writes, which under load is
 * always). The copy carries the live database's WAL mode, in which even a read-only open leaves
 * -wal and -shm files beside it; in rollback mode it is one self-contained file (the server puts
 * it back in WAL mode when it opens it).
 */
const COPY_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const ALL_PAGES = 0x7fffffff;
(async () => {
  const db = new Database(workerData.source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
    await db.backup(workerData.target, { progress: () => ALL_PAGES });
  } finally {
    db.close();
  }
  const copy = new Database(workerData.target);
  copy.pragma('journal_mode = DELETE');
  copy.close();
})().then(
  () => parentPort.postMessage({ done: true }),
  (error) => parentPort.postMessage({ error: String((error && error.message) || error) }),
);
`;

/**
 * Online backups of the embedded database, with SQLite's backup API. The database is opened
 * with an exclusive lock, so no other process can read it while the server runs: the copy is
 * made by a thread of the server, so publishes and deliveries go on meanwhile. It is
 * consistent as of the moment it starts, and holds every message acknowledged before then.
 */
export class SqliteBackup {
  readonly #source: string;
  readonly #dir: string;

  /**
   * @param dataDir the data directory: where the database is, and where copies are made before
   *   they are handed out (on the database's own file system). Copies a crash left behind are
   *   removed here.
   */
  constructor(dataDir: string) {
    this.#source = join(dataDir, DATABASE_FILE);
    this.#dir = dataDir;
    for (const name of readdirSync(dataDir)) {
      if (name.startsWith(BACKUP_PREFIX) && name.endsWith(BACKUP_SUFFIX)) {
        rmSync(join(dataDir, name), { force: true });
      }
    }
  }

  /** Copies the database into a new file. */
  async copy(): Promise<BackupFile> {
    const path = join(this.#dir, `${BACKUP_PREFIX}${randomUUID()}${BACKUP_SUFFIX}`);
    const discard = () => rmSync(path, { force: true });
    const copier = new Worker(COPY_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        source: this.#source,
        target: path,
        busyTimeoutMs: BUSY_TIMEOUT_MS,
      },
    });
    const outcome = await new Promise<{ done: true } | { error: string }>((resolve) => {
      copier.once('message', resolve);
      copier.once('error', (error) => resolve({ error: error.message }));
    });
    if ('error' in outcome) {
      discard();
      throw new Error(outcome.error);
    }
    return { path, bytes: statSync(path).size, discard };
  }
}
