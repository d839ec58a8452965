import { loadEmbeddedConfig, usesDevCredentials } from '../lambdas/embedded/config';
import { createJsonLogger } from '../lambdas/embedded/json-logger';
import { startEmbedded } from '../lambdas/embedded/start-embedded';

/**
 * `npm start`: the embedded sqstash server, API and delivery in one process on SQLite.
 * Prints its URL and credentials as QStash's development server does; the readiness line
 * matches what the official SDK's dev mode looks for (`/runn+ing( at|\.)/`).
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadEmbeddedConfig>;
  try {
    config = loadEmbeddedConfig(process.env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = createJsonLogger(config.logLevel);
  const server = await startEmbedded(config, logger);

  const devCredentials = usesDevCredentials(config);
  // Operator-supplied secrets are never printed; the public development ones are, so that a
  // developer can copy them into an app, as with QStash's own dev server.
  const secret = (value: string) => (devCredentials ? value : '<from environment>');
  console.log(
    [
      `sqstash is running at ${server.url}`,
      `console: ${server.consoleUrl} (sign in with QSTASH_TOKEN)`,
      '',
      `QSTASH_URL=${server.url}`,
      `QSTASH_TOKEN=${secret(config.token)}`,
      `QSTASH_CURRENT_SIGNING_KEY=${secret(config.currentSigningKey)}`,
      `QSTASH_NEXT_SIGNING_KEY=${secret(config.nextSigningKey)}`,
      '',
      `data: ${config.dataDir} (SQLite, synchronous=${config.sqliteSynchronous}); single instance per data directory`,
      devCredentials ? "using QStash's public development credentials: for local use only" : '',
    ].join('\n'),
  );

  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
