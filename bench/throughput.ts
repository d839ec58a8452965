/**
 * Publish throughput and end-to-end delivery, each next to its baseline, measured in the same
 * run: every server runs in its own process, and so does the load generator.
 */
import { BENCH } from './config';
import { runLoad, startServer, startSqstash, withServer } from './lib/processes';
import { startRedis } from './lib/redis';
import type { BurstCpu, BurstResult, E2eResult, PublishResult, RelayClient } from './load/protocol';
import { RELAY_CLIENTS } from './load/protocol';

// A destination nothing listens on: publish runs store messages due in a day, so the publish
// path is measured alone (the end-to-end runs measure it together with delivery).
const UNUSED_DESTINATION = 'http://127.0.0.1:9/never';
const DEFERRED = { 'upstash-delay': '1d' };
/**
 * Every message of a burst under one flow-control key whose parallelism equals the default
 * delivery concurrency: the limit never binds, so the run measures what the gate costs.
 */
export const FLOW_CONTROL_PARALLELISM = 64;
const ONE_KEY = {
  'upstash-flow-control-key': 'bench',
  'upstash-flow-control-value': `parallelism=${FLOW_CONTROL_PARALLELISM}`,
};

/**
 * A burst with the CPU it took. On a machine the burst keeps busy, delivered/s is the cores
 * over the machine's CPU per message, so this says where a faster burst has to come from.
 */
export type MeasuredBurst = BurstResult & { readonly cpu: BurstCpu };

export type ThroughputResults = {
  readonly publish: {
    readonly bare: PublishResult;
    readonly sqstash: PublishResult;
    /** The same, with SQSTASH_SQLITE_SYNCHRONOUS=FULL (an fsync per commit). */
    readonly sqstashFull: PublishResult;
  };
  readonly e2e: {
    readonly relay: E2eResult;
    readonly sqstash: E2eResult;
    readonly relayPaced: E2eResult;
    readonly sqstashPaced: E2eResult;
    readonly relayBurst: MeasuredBurst;
    readonly sqstashBurst: MeasuredBurst;
    /** The burst with every message under one flow-control key. */
    readonly sqstashBurstFlowControlled: BurstResult;
  };
  /** BullMQ 6 on Redis (bench/baselines/bullmq.ts), under the same three end-to-end loads. */
  readonly bullmq:
    | {
        readonly available: true;
        readonly closed: E2eResult;
        readonly paced: E2eResult;
        readonly burst: MeasuredBurst;
      }
    | { readonly available: false; readonly reason: string };
  /** The relay baseline run with each candidate delivery client, unpaced. */
  readonly relayClients: Readonly<Record<RelayClient, E2eResult>>;
};

export function publishRun(target: string): Promise<PublishResult> {
  return runLoad<PublishResult>({
    kind: 'publish',
    target,
    destination: UNUSED_DESTINATION,
    headers: DEFERRED,
    connections: BENCH.connections,
    ...BENCH.publish,
  });
}

export function closedRun(
  target: string,
  durationMs: number = BENCH.e2e.durationMs,
): Promise<E2eResult> {
  return runLoad<E2eResult>({
    kind: 'e2e-closed',
    target,
    connections: BENCH.connections,
    warmupMs: BENCH.e2e.warmupMs,
    durationMs,
    drainTimeoutMs: BENCH.drainTimeoutMs,
  });
}

/** `cpuOf`: the server's processes, for the CPU the burst took (BurstResult.cpu). */
export function burstRun(
  target: string,
  headers?: Record<string, string>,
  cpuOf?: readonly number[],
): Promise<BurstResult> {
  return runLoad<BurstResult>({
    kind: 'e2e-burst',
    target,
    headers,
    connections: BENCH.connections,
    messages: BENCH.burst.messages,
    drainTimeoutMs: BENCH.drainTimeoutMs,
    cpuOf,
  });
}

/** A burst, with the CPU it took the processes `pids` (the server's) and the whole machine. */
export async function measuredBurstRun(
  target: string,
  pids: readonly number[],
): Promise<MeasuredBurst> {
  const result = await burstRun(target, undefined, pids);
  if (!result.cpu) throw new Error('the load generator did not report the burst CPU');
  return { ...result, cpu: result.cpu };
}

export function pacedRun(target: string): Promise<E2eResult> {
  return runLoad<E2eResult>({
    kind: 'e2e-paced',
    target,
    connections: BENCH.connections,
    ...BENCH.paced,
    drainTimeoutMs: BENCH.drainTimeoutMs,
  });
}

function relay(client: RelayClient) {
  return () => startServer('bench/baselines/relay.ts', [client]);
}

export async function benchThroughput(log: (line: string) => void): Promise<ThroughputResults> {
  log('publish: bare node:http server');
  const bare = await withServer(
    () => startServer('bench/baselines/bare-server.ts'),
    (server) => publishRun(server.url),
  );
  log('publish: sqstash');
  const sqstash = await withServer(
    () => startSqstash(),
    (server) => publishRun(server.url),
  );
  log('publish: sqstash, SQSTASH_SQLITE_SYNCHRONOUS=FULL');
  const sqstashFull = await withServer(
    () => startSqstash({ SQSTASH_SQLITE_SYNCHRONOUS: 'FULL' }),
    (server) => publishRun(server.url),
  );

  log('end-to-end: node:http relay, unpaced, 500/s and a burst');
  const [relayUnpaced, relayPaced, relayBurst] = await withServer(
    relay('node-http'),
    async (server) => [
      await closedRun(server.url),
      await pacedRun(server.url),
      await measuredBurstRun(server.url, [server.pid]),
    ],
  );
  log('end-to-end: sqstash, unpaced, 500/s, a burst, and a burst under one flow-control key');
  const [sqstashUnpaced, sqstashPaced, sqstashBurst, sqstashBurstFlowControlled] = await withServer(
    () => startSqstash(),
    async (server) => [
      await closedRun(server.url),
      await pacedRun(server.url),
      await measuredBurstRun(server.url, [server.pid]),
      await burstRun(server.url, ONE_KEY),
    ],
  );

  log('end-to-end: BullMQ + Redis (AOF, appendfsync everysec), unpaced, 500/s and a burst');
  const bullmq = await benchBullmq();

  const relayClients = { 'node-http': relayUnpaced } as Record<RelayClient, E2eResult>;
  for (const client of RELAY_CLIENTS) {
    if (client === 'node-http') continue;
    log(`delivery clients: relay over ${client}`);
    relayClients[client] = await withServer(relay(client), (server) => closedRun(server.url));
  }

  return {
    publish: { bare, sqstash, sqstashFull },
    e2e: {
      relay: relayUnpaced,
      sqstash: sqstashUnpaced,
      relayPaced,
      sqstashPaced,
      relayBurst,
      sqstashBurst,
      sqstashBurstFlowControlled,
    },
    bullmq,
    relayClients,
  };
}

async function benchBullmq(): Promise<ThroughputResults['bullmq']> {
  const redis = await startRedis();
  if (!redis.available) return redis;
  try {
    const [closed, paced, burst] = await withServer(
      () => startServer('bench/baselines/bullmq.ts', [redis.url]),
      async (server) =>
        [
          await closedRun(server.url),
          await pacedRun(server.url),
          await measuredBurstRun(server.url, [server.pid, redis.pid]),
        ] as const,
    );
    return { available: true, closed, paced, burst };
  } finally {
    await redis.stop();
  }
}
