import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { AwsConfig } from './aws-config';
import { loadAwsConfig } from './aws-config';
import type { MetricName } from './powertools';
import { countMetric, loggerPort, traceClients } from './powertools';

/** What each function's composition takes besides its configuration and SDK clients. */
export type RuntimeOptions = {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly onMetric?: (metric: MetricName, count?: number) => void;
};

/**
 * A function's runtime, composed on its first invocation from the environment (configuration,
 * SDK clients, Powertools) and kept for the life of the instance. A failed start (a secret
 * unreadable, say) is not kept, so the next invocation tries again.
 */
export function instanceRuntime<Clients extends Record<string, object>, Runtime>(
  makeClients: () => Clients,
  compose: (config: AwsConfig, clients: Clients, options: RuntimeOptions) => Runtime,
): () => Promise<Awaited<Runtime>> {
  let runtime: Promise<Awaited<Runtime>> | undefined;
  const start = async (): Promise<Awaited<Runtime>> =>
    await compose(loadAwsConfig(process.env), await traceClients(makeClients()), {
      logger: loggerPort,
      onMetric: countMetric,
    });
  return () => {
    const started =
      runtime ??
      start().catch((error: unknown) => {
        runtime = undefined;
        throw error;
      });
    runtime = started;
    return started;
  };
}
