import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DATABASE_FILE, WAL_CAP_PAGES } from './sqlite-database';

/**
 * How long a RESTART checkpoint may wait, each time it waits (for the writer's transaction to
 * end, then for readers to leave the log): the writer is held off meanwhile, so this stays far
 * below the writer's own busy timeout (sqlite-database.ts), which a RESTART that waited twice as
 * long plus its copy once exceeded under a burst, failing commits with SQLITE_BUSY. Only taken
 * when the log reached its cap; one that gives up leaves it to the next pass.
 */
const RESTART_WAIT_MS = 100;

/** What one pass found: the log's frames, and how many of them are now in the database file. */
export type CheckpointPass = { readonly logFrames: number; readonly checkpointed: number };

export type CheckpointerOptions = {
  readonly dataDir: string;
  /** How often the thread looks for new frames to copy. */
  readonly intervalMs: number;
  /** Called with what went wrong when a pass fails; the next pass tries again. */
  readonly onError: (error: string) => void;
};

/**
 * The worker's code, as a script, so that it runs the same under tsx, jest and plain node: it
 * opens its own connection and checkpoints every interval, PASSIVE (never waiting for, nor
 * blocking, the writer). A passive checkpoint racing steady commits is never quite done, and
 * the log only starts over from a checkpoint that copied all of it: once the log reaches its
 * cap, the pass is a RESTART instead, which holds the writer off for the moment it takes to
 * copy the rest, so the next commit starts the log over (and journal_size_limit cuts it back).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
let timer;
const pass = () => {
  try {
    let [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result.log >= workerData.capFrames) {
      db.pragma('busy_timeout = ' + workerData.restartWaitMs);
      try {
        [result] = db.pragma('wal_checkpoint(RESTART)');
      } finally {
        db.pragma('busy_timeout = 0');
      }
    }
    parentPort.postMessage({ logFrames: result.log, checkpointed: result.checkpointed });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
  timer = setTimeout(pass, workerData.intervalMs);
};
parentPort.on('message', () => {
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
timer = setTimeout(pass, workerData.intervalMs);
`;

/**
 * Copies the write-ahead log into the database file on a thread of its own. A checkpoint
 * fsyncs the log and the database file; made by a commit, as SQLite does by default, it would
 * stall the event loop (publishes, deliveries) for as long as the disk takes. Here commits only
 * append to the log, the second core copies it back, and the log is fsynced every interval,
 * which also bounds what a power cut can take in synchronous=NORMAL.
 */
export class SqliteCheckpointer {
  readonly #worker: Worker;
  #last: CheckpointPass = { logFrames: 0, checkpointed: 0 };

  constructor(options: CheckpointerOptions) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        path: join(options.dataDir, DATABASE_FILE),
        intervalMs: options.intervalMs,
        capFrames: WAL_CAP_PAGES,
        restartWaitMs: RESTART_WAIT_MS,
      },
    });
    this.#worker.on('message', (message: CheckpointPass | { error: string }) => {
      if ('error' in message) options.onError(message.error);
      else this.#last = message;
    });
    this.#worker.on('error', (error) => options.onError(error.message));
    // The process may exit without waiting for it; stop() is the orderly way.
    this.#worker.unref();
  }

  /** The most recent pass's figures. */
  get last(): CheckpointPass {
    return this.#last;
  }

  /** Ends the thread after its current pass, closing its connection. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('stop');
    await exited;
  }
}
