import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { loadEmbeddedConfig, usesDevCredentials } from '../../lambdas/embedded/config';
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_TOKEN,
} from '../../lambdas/embedded/dev-credentials';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Runs `act`, asserts it threw, and returns the message. */
function errorMessageOf(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected loadEmbeddedConfig to throw');
}

describe('loadEmbeddedConfig', () => {
  it('returns the defaults when nothing is set', () => {
    expect(loadEmbeddedConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      dataDir: './.sqstash',
      token: DEV_TOKEN,
      currentSigningKey: DEV_CURRENT_SIGNING_KEY,
      nextSigningKey: DEV_NEXT_SIGNING_KEY,
      deliveryConcurrency: 64,
      deliveryConcurrencyPerDestination: 48,
      deliveryThread: true,
      addressPolicy: { allowLoopback: true, allowPrivate: true },
      maxRequestBytes: 10 * 1024 * 1024,
      sqliteSynchronous: 'NORMAL',
      shutdownGraceMs: 10 * SECOND_MS,
      retentionMs: 14 * DAY_MS,
      logLevel: 'info',
      core: DEFAULT_CORE_CONFIG,
    });
  });

  it('returns every variable parsed', () => {
    const config = loadEmbeddedConfig({
      PORT: '9090',
      HOST: '0.0.0.0',
      SQSTASH_DATA_DIR: '/var/lib/sqstash',
      QSTASH_TOKEN: 'secret-token',
      QSTASH_CURRENT_SIGNING_KEY: 'sig_current',
      QSTASH_NEXT_SIGNING_KEY: 'sig_next',
      SQSTASH_DELIVERY_CONCURRENCY: '8',
      SQSTASH_DELIVERY_CONCURRENCY_PER_DESTINATION: '8',
      SQSTASH_DELIVERY_THREAD: 'FALSE',
      SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'FALSE',
      SQSTASH_ALLOW_PRIVATE_DESTINATIONS: 'false',
      SQSTASH_MAX_REQUEST_BYTES: '2048',
      SQSTASH_DEFAULT_RETRIES: '2',
      SQSTASH_MAX_RETRIES: '10',
      SQSTASH_BACKOFF_COEFFICIENT: '2.5',
      SQSTASH_MAX_TIMEOUT: '2h',
      SQSTASH_DEDUP_WINDOW: '10m',
      SQSTASH_MAX_BODY_BYTES: '2048',
      SQSTASH_SQLITE_SYNCHRONOUS: 'full',
      SQSTASH_SHUTDOWN_GRACE: '30s',
      SQSTASH_RETENTION: '3d',
      SQSTASH_LOG_LEVEL: 'DEBUG',
    });

    expect(config).toEqual({
      port: 9090,
      host: '0.0.0.0',
      dataDir: '/var/lib/sqstash',
      token: 'secret-token',
      currentSigningKey: 'sig_current',
      nextSigningKey: 'sig_next',
      deliveryConcurrency: 8,
      deliveryConcurrencyPerDestination: 8,
      deliveryThread: false,
      addressPolicy: { allowLoopback: false, allowPrivate: false },
      maxRequestBytes: 2048,
      sqliteSynchronous: 'FULL',
      shutdownGraceMs: 30 * SECOND_MS,
      retentionMs: 3 * DAY_MS,
      logLevel: 'debug',
      core: {
        ...DEFAULT_CORE_CONFIG,
        defaultRetries: 2,
        maxRetries: 10,
        backoffCoefficient: 2.5,
        maxTimeoutMs: 2 * HOUR_MS,
        dedupWindowMs: 10 * MINUTE_MS,
        maxBodyBytes: 2048,
      },
    });
  });

  it('treats blank values as unset and trims the others', () => {
    const config = loadEmbeddedConfig({ PORT: '   ', SQSTASH_DATA_DIR: ' /data ', HOST: '' });

    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe('/data');
  });

  it('lowers the default retries to the maximum when the maximum is smaller', () => {
    const config = loadEmbeddedConfig({ SQSTASH_MAX_RETRIES: '1' });

    expect(config.core.maxRetries).toBe(1);
    expect(config.core.defaultRetries).toBe(1);
  });

  it('caps each destination at three quarters of the delivery slots unless told otherwise', () => {
    expect(loadEmbeddedConfig({ SQSTASH_DELIVERY_CONCURRENCY: '8' })).toMatchObject({
      deliveryConcurrency: 8,
      deliveryConcurrencyPerDestination: 6,
    });
    expect(
      loadEmbeddedConfig({ SQSTASH_DELIVERY_CONCURRENCY: '1' }).deliveryConcurrencyPerDestination,
    ).toBe(1);
  });

  it('refuses a per-destination cap above the total, and a policy flag that is not a boolean', () => {
    const message = errorMessageOf(() =>
      loadEmbeddedConfig({
        SQSTASH_DELIVERY_CONCURRENCY: '8',
        SQSTASH_DELIVERY_CONCURRENCY_PER_DESTINATION: '9',
        SQSTASH_ALLOW_PRIVATE_DESTINATIONS: 'yes',
      }),
    );

    expect(message).toContain(
      'SQSTASH_DELIVERY_CONCURRENCY_PER_DESTINATION="9" must be a whole number from 1 to 8',
    );
    expect(message).toContain('SQSTASH_ALLOW_PRIVATE_DESTINATIONS="yes" must be true or false');
  });

  it('accepts port 0 and a dedup window in days', () => {
    const config = loadEmbeddedConfig({ PORT: '0', SQSTASH_DEDUP_WINDOW: '90d' });

    expect(config.port).toBe(0);
    expect(config.core.dedupWindowMs).toBe(90 * DAY_MS);
  });

  it('throws one error listing every bad value', () => {
    const message = errorMessageOf(() =>
      loadEmbeddedConfig({
        PORT: '70000',
        SQSTASH_DELIVERY_CONCURRENCY: '0',
        SQSTASH_MAX_RETRIES: '5',
        SQSTASH_DEFAULT_RETRIES: '6',
        SQSTASH_BACKOFF_COEFFICIENT: '-1',
        SQSTASH_MAX_TIMEOUT: '10x',
        SQSTASH_MAX_BODY_BYTES: '1.5',
        SQSTASH_SQLITE_SYNCHRONOUS: 'OFF',
        SQSTASH_LOG_LEVEL: 'trace',
        SQSTASH_RETENTION: '500ms',
      }),
    );

    expect(message).toMatch(/^invalid configuration:\n/);
    for (const line of [
      'PORT="70000" must be a whole number from 0 to 65535',
      'SQSTASH_DELIVERY_CONCURRENCY="0" must be a whole number from 1 to 10000',
      'SQSTASH_DEFAULT_RETRIES="6" must be a whole number from 0 to 5',
      'SQSTASH_BACKOFF_COEFFICIENT="-1" must be a positive number',
      'SQSTASH_MAX_TIMEOUT="10x" must be a duration',
      'SQSTASH_MAX_BODY_BYTES="1.5" must be a whole number',
      'SQSTASH_SQLITE_SYNCHRONOUS="OFF" must be one of NORMAL, FULL',
      'SQSTASH_LOG_LEVEL="trace" must be one of debug, info, warn, error',
      'SQSTASH_RETENTION="500ms" must be a duration of at least 1s',
    ]) {
      expect(message).toContain(`  - ${line}`);
    }
    expect(message.split('\n')).toHaveLength(1 + 9);
  });

  it.each([
    ['PORT', 'http'],
    ['SQSTASH_MAX_RETRIES', '101'],
    ['SQSTASH_BACKOFF_COEFFICIENT', 'steep'],
    ['SQSTASH_DEDUP_WINDOW', 'forever'],
    ['SQSTASH_SHUTDOWN_GRACE', '-1s'],
  ])('throws naming %s when its value is %j', (name, value) => {
    expect(() => loadEmbeddedConfig({ [name]: value })).toThrow(`${name}="${value}"`);
  });

  describe('the public development token', () => {
    it.each(['0.0.0.0', '::', '192.168.1.10', 'sqstash.internal'])(
      'is refused when HOST is %j',
      (host) => {
        const message = errorMessageOf(() => loadEmbeddedConfig({ HOST: host }));

        expect(message).toContain("QSTASH_TOKEN is QStash's public development token");
        expect(message).toContain(host);
      },
    );

    it('is refused on a public HOST even when QSTASH_TOKEN is set to it explicitly', () => {
      expect(() => loadEmbeddedConfig({ HOST: '0.0.0.0', QSTASH_TOKEN: DEV_TOKEN })).toThrow(
        'public development token',
      );
    });

    it.each(['127.0.0.1', '::1', 'localhost'])('is accepted when HOST is %j', (host) => {
      const config = loadEmbeddedConfig({ HOST: host });

      expect(config.token).toBe(DEV_TOKEN);
      expect(usesDevCredentials(config)).toBe(true);
    });

    it('is not needed on a public HOST once a secret token is set', () => {
      const config = loadEmbeddedConfig({ HOST: '0.0.0.0', QSTASH_TOKEN: 'secret' });

      expect(usesDevCredentials(config)).toBe(false);
    });
  });
});
