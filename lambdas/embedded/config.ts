import type { SqliteSynchronous } from '../adapters/embedded/sqlite-database';
import { EnvReader } from '../config/env-reader';
import type { CoreConfig } from '../core/config';
import type { DestinationAddressPolicy } from '../ports/delivery-client';
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN } from './dev-credentials';
import { ENV } from './env-vars';
import type { LogLevel } from './json-logger';
import { LOG_LEVELS } from './json-logger';

/** Everything the embedded server is configured with; built once at start from the environment. */
export type EmbeddedConfig = {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly token: string;
  readonly currentSigningKey: string;
  readonly nextSigningKey: string;
  readonly deliveryConcurrency: number;
  /**
   * Most attempts in flight to one destination origin (scheme, host and port), so that one
   * slow or hanging destination cannot hold every delivery slot.
   */
  readonly deliveryConcurrencyPerDestination: number;
  /**
   * Deliver on a thread of its own (delivery-thread.ts), beside the API's event loop: on a
   * machine with two cores or more, publishing and delivering then run at once.
   */
  readonly deliveryThread: boolean;
  /** Which addresses destinations and callbacks may connect to (SQSTASH_ALLOW_*_DESTINATIONS). */
  readonly addressPolicy: DestinationAddressPolicy;
  /** Largest request body read at all, batches included; each message is held to core.maxBodyBytes. */
  readonly maxRequestBytes: number;
  readonly sqliteSynchronous: SqliteSynchronous;
  readonly shutdownGraceMs: number;
  /**
   * How long delivered, failed and canceled messages, their events and dead letters are kept
   * (SQSTASH_RETENTION); pending messages are kept however old.
   */
  readonly retentionMs: number;
  readonly logLevel: LogLevel;
  readonly core: CoreConfig;
};

export const EMBEDDED_DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: './.sqstash',
  deliveryConcurrency: 64,
  deliveryThread: true,
  // A developer's own services run on localhost and private networks (Docker, a LAN); the AWS
  // runtime, which faces the internet, refuses both by default.
  addressPolicy: { allowLoopback: true, allowPrivate: true },
  // As API Gateway's payload limit, so a batch that works embedded works on AWS too.
  maxRequestBytes: 10 * 1024 * 1024,
  sqliteSynchronous: 'NORMAL',
  shutdownGraceMs: 10_000,
  // As the AWS stack's `sqstash:retention`.
  retentionMs: 14 * 24 * 60 * 60 * 1000,
  logLevel: 'info',
} as const;

const MAX_PORT = 65_535;
const MIN_RETENTION_MS = 1_000;
const MAX_CONCURRENCY = 10_000;
const MAX_REQUEST_BYTES_CAP = 1024 * 1024 * 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Reads and validates the configuration, reporting every problem at once with the value
 * received and what is allowed, so a misconfigured server stops before it serves anything.
 */
export function loadEmbeddedConfig(
  env: Readonly<Record<string, string | undefined>>,
): EmbeddedConfig {
  const read = new EnvReader(env);
  const host = read.string(ENV.host) ?? EMBEDDED_DEFAULTS.host;
  const token = read.string(ENV.token) ?? DEV_TOKEN;
  if (token === DEV_TOKEN && !LOOPBACK_HOSTS.has(host)) {
    read.problem(
      `${ENV.token} is QStash's public development token; set a secret ${ENV.token} before listening on ${host} (the default host 127.0.0.1 accepts it)`,
    );
  }
  const deliveryConcurrency = read.integer(
    ENV.deliveryConcurrency,
    EMBEDDED_DEFAULTS.deliveryConcurrency,
    1,
    MAX_CONCURRENCY,
  );
  const config: EmbeddedConfig = {
    port: read.integer(ENV.port, EMBEDDED_DEFAULTS.port, 0, MAX_PORT),
    host,
    dataDir: read.string(ENV.dataDir) ?? EMBEDDED_DEFAULTS.dataDir,
    token,
    currentSigningKey: read.string(ENV.currentSigningKey) ?? DEV_CURRENT_SIGNING_KEY,
    nextSigningKey: read.string(ENV.nextSigningKey) ?? DEV_NEXT_SIGNING_KEY,
    deliveryConcurrency,
    deliveryConcurrencyPerDestination: read.integer(
      ENV.deliveryConcurrencyPerDestination,
      defaultPerDestination(deliveryConcurrency),
      1,
      deliveryConcurrency,
    ),
    deliveryThread: read.boolean(ENV.deliveryThread, EMBEDDED_DEFAULTS.deliveryThread),
    addressPolicy: read.addressPolicy(EMBEDDED_DEFAULTS.addressPolicy),
    maxRequestBytes: read.integer(
      ENV.maxRequestBytes,
      EMBEDDED_DEFAULTS.maxRequestBytes,
      1,
      MAX_REQUEST_BYTES_CAP,
    ),
    sqliteSynchronous: read.oneOf(
      ENV.sqliteSynchronous,
      ['NORMAL', 'FULL'],
      EMBEDDED_DEFAULTS.sqliteSynchronous,
    ),
    shutdownGraceMs: read.duration(ENV.shutdownGrace, EMBEDDED_DEFAULTS.shutdownGraceMs, 0),
    retentionMs: read.duration(ENV.retention, EMBEDDED_DEFAULTS.retentionMs, MIN_RETENTION_MS),
    logLevel: read.oneOf(ENV.logLevel, LOG_LEVELS, EMBEDDED_DEFAULTS.logLevel),
    core: read.coreConfig(),
  };
  read.assertValid();
  return config;
}

/**
 * Three quarters of the slots (at least one): a single busy destination still gets most of the
 * throughput, and a quarter stays free for the others while it hangs.
 */
export function defaultPerDestination(deliveryConcurrency: number): number {
  return Math.max(1, Math.floor((deliveryConcurrency * 3) / 4));
}

/** True when the server runs on QStash's published development credentials. */
export function usesDevCredentials(config: EmbeddedConfig): boolean {
  return config.token === DEV_TOKEN;
}
