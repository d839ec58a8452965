/**
 * The queue a small team would otherwise reach for: BullMQ 6 on Redis, built the way its docs
 * show. One process, as the embedded server is: an HTTP server whose handler takes the same
 * publish request and answers `{messageId, url}` once `queue.add` has stored the job, and a Worker
 * (concurrency 64, as sqstash's delivery) that POSTs each job's body and `Upstash-Forward-*`
 * headers to the URL it was published to, over a keep-alive undici Agent. A non-2xx answer fails
 * the attempt, retried with BullMQ's exponential backoff (4 attempts, as sqstash's 3 retries).
 *
 * Completed jobs are removed (`removeOnComplete`), failed ones kept: BullMQ's cheapest setting
 * that still keeps what failed, so the baseline is a strong one. Redis runs separately (started
 * by bench/lib/redis.ts with AOF, `appendfsync everysec`); argv[2] is its URL.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Agent, request } from 'undici';
import { forwardHeaders } from './relay-headers';

const PUBLISH_PREFIX = '/v2/publish/';
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const CONCURRENCY = 64;
const ATTEMPTS = 4;
const BACKOFF_MS = 1_000;
const QUEUE = 'deliveries';

type Job = { url: string; headers: Record<string, string>; body: string };

const redisUrl = new URL(process.argv[2] ?? 'redis://127.0.0.1:6379');
const connection = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port),
  // Required by BullMQ's Worker: its blocking commands must wait, not fail.
  maxRetriesPerRequest: null,
};
const queue = new Queue<Job>(QUEUE, {
  connection,
  defaultJobOptions: {
    attempts: ATTEMPTS,
    backoff: { type: 'exponential', delay: BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: false,
  },
});
const dispatcher = new Agent({ connections: CONCURRENCY });
const worker = new Worker<Job>(
  QUEUE,
  async (job) => {
    const { url, headers, body } = job.data;
    const response = await request(url, { dispatcher, method: 'POST', headers, body });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`destination answered ${response.statusCode}`);
    }
  },
  { connection, concurrency: CONCURRENCY },
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = (req.url ?? '').slice(PUBLISH_PREFIX.length);
    const answer = (status: number, body: string) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    const job: Job = {
      url,
      headers: forwardHeaders(req.headers),
      body: Buffer.concat(chunks).toString(),
    };
    queue.add('deliver', job).then(
      (added) => answer(200, JSON.stringify({ messageId: added.id, url })),
      (error: unknown) => answer(500, JSON.stringify({ error: String(error) })),
    );
  });
});
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]).then(() => {
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    console.log(`bullmq server running at http://127.0.0.1:${port}`);
  });
});
process.once('SIGTERM', () => {
  Promise.all([worker.close(), queue.close(), dispatcher.close()]).finally(() => process.exit(0));
});
