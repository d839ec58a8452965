import type Database from 'better-sqlite3';
import { SqliteFlowControl } from '../adapters/embedded/sqlite-flow-control';
import { SqliteGroupCommit } from '../adapters/embedded/sqlite-group-commit';
import { SqliteMessageStore } from '../adapters/embedded/sqlite-message-store';
import { SqliteQueueStore } from '../adapters/embedded/sqlite-queue-store';
import { SqliteUrlGroupStore } from '../adapters/embedded/sqlite-url-group-store';
import { SqliteWorkflowRunStore } from '../adapters/embedded/sqlite-workflow-run-store';
import type { SqliteWriteLock } from '../adapters/embedded/sqlite-write-lock';
import { UndiciDeliveryClient } from '../adapters/http/undici-delivery-client';
import { createIdGenerator } from '../core/ids';
import { processDelivery } from '../core/process-delivery';
import type { SigningKeys } from '../core/signing';
import type { WorkflowDeps } from '../core/workflow/workflow-runs';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { Telemetry } from '../ports/telemetry';
import type { EmbeddedConfig } from './config';
import { DeliveryWorker } from './delivery-worker';

// A claim outlives the longest attempt; it matters only while the process lives, since a
// restart frees every lease of the process before it.
const LEASE_MARGIN_MS = 60_000;

/**
 * What the rest of the embedded server sees of delivery, wherever it runs: on the event loop
 * of the API (deliveryEngine) or on a thread of its own (delivery-thread.ts).
 */
export type Delivery = {
  /** A message is due at `dueAt`: a publish stored it, or a cancel or resume may let one start. */
  notify(dueAt: number): void;
  /** Attempts in flight now. */
  readonly inFlight: number;
  /**
   * The signing keys were rotated: every attempt claimed once this resolves is signed with these
   * (the rotation is answered only then).
   */
  useSigningKeys(keys: SigningKeys): Promise<void>;
  /** Takes back the leases a crashed process left, then starts delivering. */
  start(): Promise<void>;
  /** Lets in-flight attempts finish for up to `graceMs`, releases the rest, and closes. */
  stop(graceMs: number): Promise<void>;
};

/** The stores that write messages on one connection, through one group commit. */
export type MessageWriters = {
  readonly flowControl: SqliteFlowControl;
  readonly messages: SqliteMessageStore;
  readonly store: SqliteGroupCommit;
  /** Tells delivery that waiting messages may start now (a cancel, a resume, a queue change). */
  readonly wake: () => void;
};

/**
 * @param notify told when messages may be due: at their due time after a commit stored them,
 *   and now after a cancel, a resume or a pin that may let waiting ones start.
 * @param writeLock shared with the other connection's group commit, when two threads write.
 */
export function messageWriters(
  db: Database.Database,
  config: EmbeddedConfig,
  clock: Clock,
  notify: (dueAt: number) => void,
  writeLock?: SqliteWriteLock,
): MessageWriters {
  const wake = () => notify(clock.now());
  const flowControl = new SqliteFlowControl(db, config.core.flowControlGlobalParallelism, wake);
  const messages = new SqliteMessageStore(db, wake, flowControl);
  // Publishes and settlements of one event-loop turn share one commit (sqlite-group-commit.ts).
  const store = new SqliteGroupCommit(db, messages, notify, writeLock);
  return { flowControl, messages, store, wake };
}

/**
 * What a connection's publishes go through (the API's, and the delivery thread's for a workflow
 * run's next steps): its group commit and the stores a publish reads.
 */
export function publishingDeps(
  db: Database.Database,
  config: EmbeddedConfig,
  clock: Clock,
  writers: MessageWriters,
  telemetry: Telemetry,
): WorkflowDeps & { readonly queues: SqliteQueueStore } {
  return {
    store: writers.store,
    clock,
    ids: createIdGenerator(),
    config: config.core,
    queues: new SqliteQueueStore(db, writers.wake),
    urlGroups: new SqliteUrlGroupStore(db),
    workflowRuns: new SqliteWorkflowRunStore(db),
    telemetry,
  };
}

export type DeliveryEngineDeps = {
  readonly config: EmbeddedConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly writers: MessageWriters;
  /** What a workflow run's delivery publishes with (its next steps, its failure function). */
  readonly workflow: WorkflowDeps;
  readonly signingKeys: () => SigningKeys;
};

/** Delivery on this thread: the worker claiming due messages, attempting and settling them. */
export function deliveryEngine(deps: DeliveryEngineDeps): Delivery {
  const { config, clock, logger, telemetry, writers, workflow, signingKeys } = deps;
  const client = new UndiciDeliveryClient({
    maxResponseBodyBytes: config.core.maxResponseBodyBytes,
    addressPolicy: config.addressPolicy,
  });
  const processDeps = {
    client,
    clock,
    ids: workflow.ids,
    config: config.core,
    signingKeys,
    store: writers.store,
    logger,
    telemetry,
    workflow,
  };
  const worker = new DeliveryWorker({
    store: writers.messages,
    commit: (write) => writers.store.commit(write),
    clock,
    logger,
    concurrency: config.deliveryConcurrency,
    concurrencyPerDestination: config.deliveryConcurrencyPerDestination,
    leaseMs: config.core.maxTimeoutMs + LEASE_MARGIN_MS,
    deliver: (message, retried, signal, claimedAt) =>
      processDelivery(processDeps, { message, retried, claimedAt }, signal),
  });
  return {
    notify: (dueAt) => worker.notify(dueAt),
    get inFlight() {
      return worker.inFlight;
    },
    // signingKeys reads the key ring the rotation changed.
    useSigningKeys: async () => {},
    start: async () => worker.start(),
    stop: async (graceMs) => {
      await worker.stop(graceMs);
      await client.close();
    },
  };
}
