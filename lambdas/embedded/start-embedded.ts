import type { AddressInfo } from 'node:net';
import { SqliteBackup } from '../adapters/embedded/sqlite-backup';
import { SqliteCheckpointer } from '../adapters/embedded/sqlite-checkpointer';
import { openDatabase } from '../adapters/embedded/sqlite-database';
import { SqliteDeadLetterStore } from '../adapters/embedded/sqlite-dead-letter-store';
import { SqliteEventLog } from '../adapters/embedded/sqlite-event-log';
import { SqliteGauges } from '../adapters/embedded/sqlite-gauges';
import { databaseHealthCheck } from '../adapters/embedded/sqlite-health';
import { SqlitePendingMessageList } from '../adapters/embedded/sqlite-pending-message-list';
import { SqliteRetention } from '../adapters/embedded/sqlite-retention';
import { SqliteScheduleStore } from '../adapters/embedded/sqlite-schedule-store';
import { SqliteSigningKeyStore } from '../adapters/embedded/sqlite-signing-key-store';
import { SqliteWriteLock } from '../adapters/embedded/sqlite-write-lock';
import { KeyRing } from '../core/key-ring';
import type { ScheduleDeps } from '../core/schedules';
import { fireSchedule } from '../core/schedules';
import { createApi } from '../http/router';
import type { Clock } from '../ports/clock';
import { systemClock } from '../ports/clock';
import type { DeadLetterStore } from '../ports/dead-letter-store';
import type { Logger } from '../ports/logger';
import type { EmbeddedConfig } from './config';
import { consoleAssets } from './console-assets';
import type { Delivery } from './delivery-engine';
import { deliveryEngine, messageWriters, publishingDeps } from './delivery-engine';
import { DeliveryThread } from './delivery-thread';
import { createNodeServer } from './node-server';
import { createOpsEndpoints } from './ops-endpoints';
import { PrometheusMetrics } from './prometheus-metrics';
import { RetentionSweeper } from './retention-sweeper';
import { ScheduleRunner } from './schedule-runner';

export type RunningServer = {
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Where the browser console is served: the base URL's root. */
  readonly consoleUrl: string;
  /** Stops taking requests and work, finishes or releases in-flight attempts, closes the store. */
  stop(): Promise<void>;
};

// How often the checkpointer thread copies the write-ahead log back and fsyncs it.
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * The embedded runtime's composition root: one process with the HTTP API and delivery (on a
 * thread of its own unless configured otherwise) on one SQLite file. Single-instance: the
 * database is opened with an exclusive lock.
 */
export async function startEmbedded(
  config: EmbeddedConfig,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<RunningServer> {
  const db = openDatabase(config.dataDir, config.sqliteSynchronous);
  const gauges = new SqliteGauges(db);
  const checkpointer = new SqliteCheckpointer({
    dataDir: config.dataDir,
    intervalMs: CHECKPOINT_INTERVAL_MS,
    onError: (error) => logger.warn('checkpoint failed; will retry', { error }),
  });
  // A test's clock cannot cross to another thread: with one, delivery stays on this one.
  const onThread = config.deliveryThread && clock === systemClock;
  // Held by this connection's group commit and the delivery thread's while each commits.
  const writeLock = onThread ? new SqliteWriteLock() : undefined;
  let delivery: Delivery | undefined;
  const writers = messageWriters(db, config, clock, (dueAt) => delivery?.notify(dueAt), writeLock);
  const { flowControl, messages } = writers;
  // One process owns the data directory, so its rotations are the only ones: no refresh.
  const keyRing = await KeyRing.load(new SqliteSigningKeyStore(db), {
    configured: { current: config.currentSigningKey, next: config.nextSigningKey },
  });
  const keys = {
    current: () => keyRing.current(),
    rotate: async () => {
      const rotated = await keyRing.rotate();
      await delivery?.useSigningKeys(rotated);
      return rotated;
    },
  };

  const metrics = new PrometheusMetrics({
    pendingMessages: () => gauges.pendingMessages(),
    inFlight: () => delivery?.inFlight ?? 0,
    deadLetters: () => gauges.deadLetters(),
    queues: () => publishDeps.queues.listQueues(),
    schedules: () => gauges.schedules(),
  });
  const publishDeps = publishingDeps(db, config, clock, writers, metrics);
  delivery = onThread
    ? new DeliveryThread({
        config,
        logger,
        telemetry: metrics,
        signingKeys: keyRing.current(),
        writeLock: writeLock!,
      })
    : deliveryEngine({
        config,
        clock,
        logger,
        telemetry: metrics,
        writers,
        workflow: publishDeps,
        signingKeys: () => keyRing.current(),
      });

  // The runner fires ticks through the same deps the API creates schedules with.
  const schedules = new SqliteScheduleStore(db);
  const runner = new ScheduleRunner({
    store: schedules,
    clock,
    logger,
    fire: (scheduleId, tickTime) => fireSchedule(scheduleDeps, scheduleId, tickTime),
  });
  const scheduleDeps: ScheduleDeps = {
    ...publishDeps,
    schedules,
    trigger: runner,
  };

  const api = createApi({
    ...scheduleDeps,
    flowControl,
    token: config.token,
    keyRing: keys,
    deadLetters: notifyingReplacements(new SqliteDeadLetterStore(db, messages), (dueAt) =>
      delivery?.notify(dueAt),
    ),
    events: new SqliteEventLog(db),
    pendingMessages: new SqlitePendingMessageList(db),
    logger,
  });
  const retention = new SqliteRetention(db);
  const sweeper = new RetentionSweeper({
    sweepBatch: (cutoffMs, nowMs) => retention.sweepBatch(cutoffMs, nowMs),
    clock,
    logger,
    retentionMs: config.retentionMs,
  });
  const asset = consoleAssets();
  const server = createNodeServer({
    handle: async (request) => asset(request) ?? api(request),
    maxBodyBytes: config.maxRequestBytes,
    serveDirect: createOpsEndpoints({
      token: config.token,
      logger,
      clock,
      checkHealth: databaseHealthCheck(db),
      metrics,
      backup: new SqliteBackup(config.dataDir),
    }),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, resolve);
    });
  } catch (error) {
    await checkpointer.stop();
    db.close();
    throw error;
  }
  try {
    await delivery.start();
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await checkpointer.stop();
    db.close();
    throw error;
  }
  runner.start();
  sweeper.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    consoleUrl: `http://${host}:${address.port}/`,
    stop: () => {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // The runner stops first, so no tick publishes into a closed store.
        await runner.stop();
        await sweeper.stop();
        await delivery.stop(config.shutdownGraceMs);
        await closed;
        await checkpointer.stop();
        db.close();
      })();
      return stopping;
    },
  };
}

/** The DLQ, telling the delivery worker about the messages a retry stores. */
function notifyingReplacements(
  deadLetters: SqliteDeadLetterStore,
  notify: (dueAt: number) => void,
): DeadLetterStore {
  return {
    listDeadLetters: (query) => deadLetters.listDeadLetters(query),
    getDeadLetter: (dlqId) => deadLetters.getDeadLetter(dlqId),
    deleteDeadLetters: (query) => deadLetters.deleteDeadLetters(query),
    replaceWithMessages: async (replacements, nowMs) => {
      const result = await deadLetters.replaceWithMessages(replacements, nowMs);
      for (const { message } of replacements) notify(message.notBefore);
      return result;
    },
  };
}
