/** Every environment variable the embedded server reads, named once. */
export const ENV = {
  port: 'PORT',
  host: 'HOST',
  dataDir: 'SQSTASH_DATA_DIR',
  token: 'QSTASH_TOKEN',
  currentSigningKey: 'QSTASH_CURRENT_SIGNING_KEY',
  nextSigningKey: 'QSTASH_NEXT_SIGNING_KEY',
  deliveryConcurrency: 'SQSTASH_DELIVERY_CONCURRENCY',
  defaultRetries: 'SQSTASH_DEFAULT_RETRIES',
  maxRetries: 'SQSTASH_MAX_RETRIES',
  backoffCoefficient: 'SQSTASH_BACKOFF_COEFFICIENT',
  maxTimeout: 'SQSTASH_MAX_TIMEOUT',
  dedupWindow: 'SQSTASH_DEDUP_WINDOW',
  maxBodyBytes: 'SQSTASH_MAX_BODY_BYTES',
  sqliteSynchronous: 'SQSTASH_SQLITE_SYNCHRONOUS',
  shutdownGrace: 'SQSTASH_SHUTDOWN_GRACE',
  logLevel: 'SQSTASH_LOG_LEVEL',
} as const;
