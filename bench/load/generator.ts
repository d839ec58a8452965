/**
 * The load generator: its own process, so it never shares an event loop with the server under
 * test. Reads a LoadJob (JSON) from argv[2], runs it, prints one JSON result line on stdout.
 *
 * Publishes go over undici's Pool with N keep-alive connections. End-to-end jobs also run the
 * sink, the destination every message is delivered to, in this process: publish and arrival
 * times then come from one clock (performance.now()).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { DEV_TOKEN, jsonBody } from '../config';
import { startCpuMeter } from '../lib/cpu';
import { Samples } from '../lib/stats';
import type { BurstResult, E2eResult, LoadJob, PublishResult } from './protocol';
import { SEQ_HEADER, SINK_SEQ_HEADER } from './protocol';

const BODY = jsonBody();
const BASE_HEADERS = {
  authorization: `Bearer ${DEV_TOKEN}`,
  'content-type': 'application/json',
};
const KEEP_ALIVE_MS = 60_000;

function pool(target: string, connections: number): Pool {
  return new Pool(target, {
    connections,
    pipelining: 1,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });
}

/** Sends one publish; resolves true on a 2xx answer. */
async function publish(
  client: Pool,
  path: string,
  headers: Record<string, string>,
): Promise<boolean> {
  try {
    const response = await client.request({ path, method: 'POST', headers, body: BODY });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  } catch {
    return false;
  }
}

async function runPublish(job: Extract<LoadJob, { kind: 'publish' }>): Promise<PublishResult> {
  const client = pool(job.target, job.connections);
  const path = `/v2/publish/${job.destination}`;
  const headers = { ...BASE_HEADERS, ...job.headers };
  const latencies = new Samples();
  let errors = 0;
  const start = performance.now();
  const from = start + job.warmupMs;
  const end = from + job.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const sentAt = performance.now();
      const ok = await publish(client, path, headers);
      const doneAt = performance.now();
      if (doneAt < from || doneAt > end) continue;
      if (ok) latencies.push(doneAt - sentAt);
      else errors += 1;
    }
  };
  await Promise.all(Array.from({ length: job.connections }, worker));
  await client.close();
  return {
    requests: latencies.length,
    perSecond: latencies.length / (job.durationMs / 1000),
    latencyMs: latencies.percentiles(),
    errors,
  };
}

/** The destination: answers 200 at once and reports each arrival by its sequence number. */
async function startSink(onArrival: (seq: number, at: number) => void) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    const seq = Number(req.headers[SINK_SEQ_HEADER]);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    });
    onArrival(seq, at);
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sink`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Tracks messages between publish and arrival. */
class Arrivals {
  readonly #waiters = new Map<number, (at: number) => void>();
  readonly #arrivedAt = new Map<number, number>();
  duplicates = 0;

  arrive = (seq: number, at: number): void => {
    if (this.#arrivedAt.has(seq)) {
      this.duplicates += 1;
      return;
    }
    this.#arrivedAt.set(seq, at);
    const waiter = this.#waiters.get(seq);
    if (waiter) {
      this.#waiters.delete(seq);
      waiter(at);
    }
  };

  /** Resolves with the arrival time, or undefined if `deadline` comes first. */
  wait(seq: number, deadline: Promise<void>): Promise<number | undefined> {
    const known = this.#arrivedAt.get(seq);
    if (known !== undefined) return Promise.resolve(known);
    const arrived = new Promise<number>((resolve) => this.#waiters.set(seq, resolve));
    return Promise.race([arrived, deadline.then(() => undefined)]);
  }

  arrivedAt(seq: number): number | undefined {
    return this.#arrivedAt.get(seq);
  }
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

async function runClosedLoop(job: Extract<LoadJob, { kind: 'e2e-closed' }>): Promise<E2eResult> {
  const arrivals = new Arrivals();
  const sink = await startSink(arrivals.arrive);
  const client = pool(job.target, job.connections);
  const path = `/v2/publish/${sink.url}`;
  const latencies = new Samples();
  let nextSeq = 0;
  let published = 0;
  let errors = 0;
  let missing = 0;
  const start = performance.now();
  const from = start + job.warmupMs;
  const end = from + job.durationMs;
  const deadline = sleepUntil(end + job.drainTimeoutMs);
  const producer = async () => {
    while (performance.now() < end) {
      const seq = nextSeq++;
      const sentAt = performance.now();
      const ok = await publish(client, path, { ...BASE_HEADERS, [SEQ_HEADER]: String(seq) });
      if (!ok) {
        errors += 1;
        continue;
      }
      published += 1;
      const arrivedAt = await arrivals.wait(seq, deadline);
      if (arrivedAt === undefined) {
        missing += 1;
        return;
      }
      if (arrivedAt >= from && arrivedAt <= end) latencies.push(arrivedAt - sentAt);
    }
  };
  await Promise.all(Array.from({ length: job.connections }, producer));
  await client.close();
  sink.close();
  return {
    published,
    delivered: latencies.length,
    perSecond: latencies.length / (job.durationMs / 1000),
    latencyMs: latencies.percentiles(),
    errors,
    missing,
    duplicates: arrivals.duplicates,
  };
}

async function runBurst(job: Extract<LoadJob, { kind: 'e2e-burst' }>): Promise<BurstResult> {
  const arrivals = new Arrivals();
  const sink = await startSink(arrivals.arrive);
  const client = pool(job.target, job.connections);
  const path = `/v2/publish/${sink.url}`;
  const sentAt = new Float64Array(job.messages);
  const acked = new Uint8Array(job.messages);
  let nextSeq = 0;
  const cpuSinceStart = job.cpuOf && startCpuMeter(job.cpuOf);
  const start = performance.now();
  const producer = async () => {
    while (nextSeq < job.messages) {
      const seq = nextSeq++;
      sentAt[seq] = performance.now();
      const headers = { ...BASE_HEADERS, ...job.headers, [SEQ_HEADER]: String(seq) };
      acked[seq] = (await publish(client, path, headers)) ? 1 : 0;
    }
  };
  await Promise.all(Array.from({ length: job.connections }, producer));
  const publishedAt = performance.now();
  const deadline = sleepUntil(publishedAt + job.drainTimeoutMs);
  const latencies = new Samples();
  let errors = 0;
  let missing = 0;
  let last = start;
  for (let seq = 0; seq < job.messages; seq += 1) {
    if (!acked[seq]) {
      errors += 1;
      continue;
    }
    const arrivedAt = await arrivals.wait(seq, deadline);
    if (arrivedAt === undefined) {
      missing += 1;
      continue;
    }
    latencies.push(arrivedAt - sentAt[seq]!);
    last = Math.max(last, arrivedAt);
  }
  // Read as the last message arrives (the loop ends on its arrival), so the CPU covers the span
  // delivered/s is measured over, not this process's start-up or the drain.
  const cpu = cpuSinceStart?.(latencies.length);
  await client.close();
  sink.close();
  return {
    ...(cpu && { cpu }),
    published: job.messages - errors,
    publishPerSecond: (job.messages - errors) / ((publishedAt - start) / 1000),
    delivered: latencies.length,
    perSecond: latencies.length / ((last - start) / 1000),
    latencyMs: latencies.percentiles(),
    errors,
    missing,
    duplicates: arrivals.duplicates,
  };
}

async function runPaced(job: Extract<LoadJob, { kind: 'e2e-paced' }>): Promise<E2eResult> {
  const arrivals = new Arrivals();
  const sink = await startSink(arrivals.arrive);
  const client = pool(job.target, job.connections);
  const path = `/v2/publish/${sink.url}`;
  const intervalMs = 1000 / job.rate;
  const total = Math.floor(((job.warmupMs + job.durationMs) / 1000) * job.rate);
  const firstMeasured = Math.ceil((job.warmupMs / 1000) * job.rate);
  const acked: Promise<boolean>[] = [];
  const start = performance.now() + 10;
  const scheduledAt = (seq: number) => start + seq * intervalMs;

  await new Promise<void>((resolve) => {
    let next = 0;
    const pump = () => {
      const now = performance.now();
      while (next < total && scheduledAt(next) <= now) {
        acked.push(publish(client, path, { ...BASE_HEADERS, [SEQ_HEADER]: String(next) }));
        next += 1;
      }
      if (next < total) setTimeout(pump, Math.max(0, scheduledAt(next) - performance.now()));
      else resolve();
    };
    pump();
  });
  const answers = await Promise.all(acked);
  const deadline = sleepUntil(performance.now() + job.drainTimeoutMs);
  const latencies = new Samples();
  let errors = 0;
  let missing = 0;
  for (let seq = 0; seq < total; seq += 1) {
    if (!answers[seq]) {
      if (seq >= firstMeasured) errors += 1;
      continue;
    }
    const arrivedAt = await arrivals.wait(seq, deadline);
    if (arrivedAt === undefined) missing += 1;
    else if (seq >= firstMeasured) latencies.push(arrivedAt - scheduledAt(seq));
  }
  await client.close();
  sink.close();
  const measured = total - firstMeasured;
  return {
    published: answers.slice(firstMeasured).filter(Boolean).length,
    delivered: latencies.length,
    perSecond: (latencies.length / measured) * job.rate,
    latencyMs: latencies.percentiles(),
    errors,
    missing,
    duplicates: arrivals.duplicates,
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as LoadJob;
  const result =
    job.kind === 'publish'
      ? await runPublish(job)
      : job.kind === 'e2e-closed'
        ? await runClosedLoop(job)
        : job.kind === 'e2e-burst'
          ? await runBurst(job)
          : await runPaced(job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
