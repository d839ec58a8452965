/**
 * The environment variables only the embedded server reads, named once; those for QStash
 * semantics, shared with the AWS runtime, are CORE_ENV in lambdas/config/env-reader.ts, and
 * the destination address policy's are DESTINATION_POLICY_ENV there.
 */
export const ENV = {
  port: 'PORT',
  host: 'HOST',
  dataDir: 'SQSTASH_DATA_DIR',
  token: 'QSTASH_TOKEN',
  currentSigningKey: 'QSTASH_CURRENT_SIGNING_KEY',
  nextSigningKey: 'QSTASH_NEXT_SIGNING_KEY',
  deliveryConcurrency: 'SQSTASH_DELIVERY_CONCURRENCY',
  deliveryConcurrencyPerDestination: 'SQSTASH_DELIVERY_CONCURRENCY_PER_DESTINATION',
  deliveryThread: 'SQSTASH_DELIVERY_THREAD',
  maxRequestBytes: 'SQSTASH_MAX_REQUEST_BYTES',
  sqliteSynchronous: 'SQSTASH_SQLITE_SYNCHRONOUS',
  shutdownGrace: 'SQSTASH_SHUTDOWN_GRACE',
  logLevel: 'SQSTASH_LOG_LEVEL',
  retention: 'SQSTASH_RETENTION',
} as const;
