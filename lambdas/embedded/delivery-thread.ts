import type { WorkerOptions } from 'node:worker_threads';
import { parentPort, Worker } from 'node:worker_threads';
import { connectDatabase } from '../adapters/embedded/sqlite-database';
import { SqliteWriteLock } from '../adapters/embedded/sqlite-write-lock';
import type { SigningKeys } from '../core/signing';
import { systemClock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { SettledAttempt, Telemetry } from '../ports/telemetry';
import type { EmbeddedConfig } from './config';
import type { Delivery } from './delivery-engine';
import { deliveryEngine, messageWriters, publishingDeps } from './delivery-engine';

type LogLevel = keyof Logger;

/** What the delivery thread is started with (worker_threads' workerData). */
type ThreadData = {
  readonly config: EmbeddedConfig;
  readonly keys: SigningKeys;
  /** The group commits' write lock (sqlite-write-lock.ts). */
  readonly writeLock: SharedArrayBuffer;
  /** One word the thread keeps its attempts in flight in, for the metrics. */
  readonly inFlight: SharedArrayBuffer;
  /** Loads TypeScript in the thread (tsx) when this module is TypeScript. */
  readonly register?: string;
  readonly entry: string;
};

/** What the thread's telemetry saw in one turn of its event loop. */
type TelemetryBatch = {
  readonly settled: SettledAttempt[];
  /** Publishes the thread made (a workflow run's next steps): stored, deduplicated, ms. */
  readonly published: [number, number, number][];
};
type ToThread = { wake: number } | { keys: SigningKeys } | { stop: number };
type FromThread =
  | { ready: true }
  | { keysInUse: true }
  | { log: [LogLevel, string, Record<string, unknown> | undefined] }
  | { telemetry: TelemetryBatch };

// Plain JavaScript, so that the thread starts the same under tsx, jest and plain node.
const THREAD_SOURCE = `
const { workerData } = require('node:worker_threads');
if (workerData.register) require(workerData.register);
require(workerData.entry).runDeliveryThread(workerData);
`;
// An unexpected end of the thread (a bug, an out-of-memory) is followed by a new one this much
// later; it takes back the leases the old one held, as a restart of the process would.
const RESTART_DELAY_MS = 1_000;
// How often the thread refreshes its in-flight count between settlements.
const IN_FLIGHT_REPORT_MS = 250;
// After its stop's grace, how long the thread has to close before it is terminated.
const STOP_MARGIN_MS = 5_000;

/**
 * The flags of the process the thread is started with: only V8's profiler flags (`--cpu-prof`,
 * `--heap-prof` and their `--cpu-prof-dir=...` kind, a value joined with `=`), so that profiling
 * the server profiles its delivery too. The others are not passed on: the thread loads tsx
 * itself (workerData.register) rather than through the process's `--import tsx`.
 */
export function profilingFlags(execArgv: readonly string[]): string[] {
  return execArgv.filter((flag) => /^--(cpu|heap)-prof(-[a-z]+=.+)?$/.test(flag));
}

export type DeliveryThreadOptions = {
  readonly config: EmbeddedConfig;
  readonly logger: Logger;
  /** Where the thread's settled attempts are counted (the Prometheus metrics). */
  readonly telemetry: Telemetry;
  /** The keys the thread signs with until it is given others (useSigningKeys). */
  readonly signingKeys: SigningKeys;
  /** The lock the API's group commit holds while it commits. */
  readonly writeLock: SqliteWriteLock;
  /** Starts a thread. @default `new Worker(source, options)` */
  readonly spawn?: (source: string, options: WorkerOptions) => Worker;
};

/**
 * Delivery on a thread of its own, with its own connection to the database: the API's event
 * loop parses publishes and commits them, this thread claims, attempts and settles them, so a
 * two-core machine runs both halves at once. The two group commits take turns at the write lock
 * (sqlite-write-lock.ts). Everything it needs crosses as plain data: wake-ups and key rotations
 * in; log lines and settled attempts (for the metrics) out.
 */
export class DeliveryThread implements Delivery {
  readonly #options: DeliveryThreadOptions;
  readonly #inFlight = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  #keys: SigningKeys;
  #thread: Worker | undefined;
  /** The thread was started and has not exited: messages wait for it until it listens. */
  #alive = false;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: DeliveryThreadOptions) {
    this.#options = options;
    this.#keys = options.signingKeys;
  }

  get inFlight(): number {
    return Atomics.load(this.#inFlight, 0);
  }

  notify(dueAt: number): void {
    this.#post({ wake: dueAt });
  }

  useSigningKeys(keys: SigningKeys): Promise<void> {
    this.#keys = keys;
    const thread = this.#thread;
    if (!thread || !this.#alive || this.#stopping) return Promise.resolve();
    // Answered by the thread once it signs with them; a thread that ends first starts on them.
    const inUse = new Promise<void>((resolve) => {
      const onMessage = (message: FromThread) => {
        if (!('keysInUse' in message)) return;
        thread.off('message', onMessage);
        thread.off('exit', onExit);
        resolve();
      };
      const onExit = () => {
        thread.off('message', onMessage);
        resolve();
      };
      thread.on('message', onMessage);
      thread.once('exit', onExit);
    });
    thread.postMessage({ keys } satisfies ToThread);
    return inUse;
  }

  start(): Promise<void> {
    const spawn = this.#options.spawn ?? ((source, options) => new Worker(source, options));
    const thread = spawn(THREAD_SOURCE, {
      eval: true,
      execArgv: profilingFlags(process.execArgv),
      workerData: {
        config: this.#options.config,
        keys: this.#keys,
        writeLock: this.#options.writeLock.buffer,
        inFlight: this.#inFlight.buffer as SharedArrayBuffer,
        register: __filename.endsWith('.ts') ? require.resolve('tsx/cjs') : undefined,
        entry: __filename,
      } satisfies ThreadData,
    });
    this.#thread = thread;
    this.#alive = true;
    let ready = false;
    const { logger, telemetry } = this.#options;
    const started = new Promise<void>((resolve, reject) => {
      thread.on('message', (message: FromThread) => {
        if ('keysInUse' in message) return;
        if ('ready' in message) {
          ready = true;
          resolve();
        } else if ('log' in message) {
          logger[message.log[0]](message.log[1], message.log[2]);
        } else {
          for (const attempt of message.telemetry.settled) telemetry.attemptSettled(attempt);
          for (const publish of message.telemetry.published) telemetry.published(...publish);
        }
      });
      thread.once('error', (error) => {
        logger.error('the delivery thread failed', { error: error.message });
        reject(error);
      });
    });
    thread.once('exit', () => {
      this.#alive = false;
      // A thread that never got going is its start's failure, not one to restart.
      if (!ready || this.#stopping) return;
      logger.error('the delivery thread ended; starting another', {
        inSeconds: RESTART_DELAY_MS / 1000,
      });
      Atomics.store(this.#inFlight, 0, 0);
      this.#restartTimer = setTimeout(() => {
        this.start().catch(() => {});
      }, RESTART_DELAY_MS);
    });
    return started;
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const thread = this.#thread;
    if (!thread || !this.#alive) return;
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    thread.postMessage({ stop: graceMs } satisfies ToThread);
    const timer = setTimeout(() => void thread.terminate(), graceMs + STOP_MARGIN_MS);
    await exited;
    clearTimeout(timer);
  }

  #post(message: ToThread): void {
    if (this.#alive && !this.#stopping) this.#thread?.postMessage(message);
  }
}

/** The thread's side: runs `deliveryEngine` on its own connection. */
export async function runDeliveryThread(data: ThreadData): Promise<void> {
  const port = parentPort!;
  const { config } = data;
  const clock = systemClock;
  const post = (message: FromThread) => port.postMessage(message);
  const log =
    (level: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      try {
        post({ log: [level, message, fields] });
      } catch {
        // Fields that cannot cross (a function): their JSON can.
        post({ log: [level, message, JSON.parse(JSON.stringify(fields ?? {}))] });
      }
    };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  };
  const inFlight = new Int32Array(data.inFlight);
  // What the telemetry sees crosses once per turn of the event loop, however much it is.
  let batch: TelemetryBatch | undefined;
  const batched = (): TelemetryBatch => {
    if (!batch) {
      const current: TelemetryBatch = { settled: [], published: [] };
      batch = current;
      setImmediate(() => {
        batch = undefined;
        post({ telemetry: current });
        Atomics.store(inFlight, 0, delivery.inFlight);
      });
    }
    return batch;
  };
  const telemetry: Telemetry = {
    published: (stored, deduplicated, durationMs) => {
      batched().published.push([stored, deduplicated, durationMs]);
    },
    attemptSettled: (attempt) => {
      batched().settled.push(attempt);
    },
  };

  const db = connectDatabase(config.dataDir, config.sqliteSynchronous);
  const writers = messageWriters(
    db,
    config,
    clock,
    (dueAt) => delivery.notify(dueAt),
    new SqliteWriteLock(data.writeLock),
  );
  let keys = data.keys;
  const delivery: Delivery = deliveryEngine({
    config,
    clock,
    logger,
    telemetry,
    writers,
    workflow: publishingDeps(db, config, clock, writers, telemetry),
    signingKeys: () => keys,
  });
  const reporter = setInterval(
    () => Atomics.store(inFlight, 0, delivery.inFlight),
    IN_FLIGHT_REPORT_MS,
  );
  port.on('message', (message: ToThread) => {
    if ('wake' in message) delivery.notify(message.wake);
    else if ('keys' in message) {
      keys = message.keys;
      post({ keysInUse: true });
    } else {
      clearInterval(reporter);
      void delivery.stop(message.stop).finally(() => {
        db.close();
        port.close();
      });
    }
  });
  await delivery.start();
  post({ ready: true });
}
