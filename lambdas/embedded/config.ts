import type { SqliteSynchronous } from '../adapters/embedded/sqlite-database';
import type { CoreConfig } from '../core/config';
import { DEFAULT_CORE_CONFIG } from '../core/config';
import { parseDurationMs } from '../core/durations';
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
  readonly sqliteSynchronous: SqliteSynchronous;
  readonly shutdownGraceMs: number;
  readonly logLevel: LogLevel;
  readonly core: CoreConfig;
};

export const EMBEDDED_DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  dataDir: './.sqstash',
  deliveryConcurrency: 64,
  sqliteSynchronous: 'NORMAL',
  shutdownGraceMs: 10_000,
  logLevel: 'info',
} as const;

const MAX_PORT = 65_535;
const MAX_CONCURRENCY = 10_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Reads and validates the configuration, reporting every problem at once with the value
 * received and what is allowed, so a misconfigured server stops before it serves anything.
 */
export function loadEmbeddedConfig(
  env: Readonly<Record<string, string | undefined>>,
): EmbeddedConfig {
  const problems: string[] = [];
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = read(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      problems.push(`${name}="${value}" must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return parsed;
  };
  const duration = (name: string, fallbackMs: number, minMs: number): number => {
    const value = read(name);
    if (value === undefined) return fallbackMs;
    try {
      const parsed = parseDurationMs(value, name);
      if (parsed >= minMs) return parsed;
    } catch {
      // reported below, like a value under the minimum
    }
    problems.push(
      `${name}="${value}" must be a duration of at least ${minMs / 1000}s, such as 30s, 15m, 2h or 90d`,
    );
    return fallbackMs;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = read(name);
    if (value === undefined) return fallback;
    const match = allowed.find((option) => option.toLowerCase() === value.toLowerCase());
    if (!match) problems.push(`${name}="${value}" must be one of ${allowed.join(', ')}`);
    return match ?? fallback;
  };

  const maxRetries = integer(ENV.maxRetries, DEFAULT_CORE_CONFIG.maxRetries, 0, 100);
  const core: CoreConfig = {
    ...DEFAULT_CORE_CONFIG,
    maxRetries,
    defaultRetries: integer(
      ENV.defaultRetries,
      Math.min(DEFAULT_CORE_CONFIG.defaultRetries, maxRetries),
      0,
      maxRetries,
    ),
    backoffCoefficient: positiveNumber(
      read(ENV.backoffCoefficient),
      DEFAULT_CORE_CONFIG.backoffCoefficient,
      problems,
    ),
    maxTimeoutMs: duration(ENV.maxTimeout, DEFAULT_CORE_CONFIG.maxTimeoutMs, 1000),
    dedupWindowMs: duration(ENV.dedupWindow, DEFAULT_CORE_CONFIG.dedupWindowMs, 1000),
    maxBodyBytes: integer(ENV.maxBodyBytes, DEFAULT_CORE_CONFIG.maxBodyBytes, 1, 100 * 1024 * 1024),
  };
  const host = read(ENV.host) ?? EMBEDDED_DEFAULTS.host;
  const token = read(ENV.token) ?? DEV_TOKEN;
  if (token === DEV_TOKEN && !LOOPBACK_HOSTS.has(host)) {
    problems.push(
      `${ENV.token} is QStash's public development token; set a secret ${ENV.token} before listening on ${host} (the default host 127.0.0.1 accepts it)`,
    );
  }
  const config: EmbeddedConfig = {
    port: integer(ENV.port, EMBEDDED_DEFAULTS.port, 0, MAX_PORT),
    host,
    dataDir: read(ENV.dataDir) ?? EMBEDDED_DEFAULTS.dataDir,
    token,
    currentSigningKey: read(ENV.currentSigningKey) ?? DEV_CURRENT_SIGNING_KEY,
    nextSigningKey: read(ENV.nextSigningKey) ?? DEV_NEXT_SIGNING_KEY,
    deliveryConcurrency: integer(
      ENV.deliveryConcurrency,
      EMBEDDED_DEFAULTS.deliveryConcurrency,
      1,
      MAX_CONCURRENCY,
    ),
    sqliteSynchronous: oneOf(
      ENV.sqliteSynchronous,
      ['NORMAL', 'FULL'],
      EMBEDDED_DEFAULTS.sqliteSynchronous,
    ),
    shutdownGraceMs: duration(ENV.shutdownGrace, EMBEDDED_DEFAULTS.shutdownGraceMs, 0),
    logLevel: oneOf(ENV.logLevel, LOG_LEVELS, EMBEDDED_DEFAULTS.logLevel),
    core,
  };
  if (problems.length > 0) {
    throw new Error(
      `invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    );
  }
  return config;
}

function positiveNumber(value: string | undefined, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    problems.push(`${ENV.backoffCoefficient}="${value}" must be a positive number`);
    return fallback;
  }
  return parsed;
}

/** True when the server runs on QStash's published development credentials. */
export function usesDevCredentials(config: EmbeddedConfig): boolean {
  return config.token === DEV_TOKEN;
}
