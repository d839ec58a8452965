/**
 * Soak: many messages through the embedded server to a sink that fails a share of attempts at
 * random, until every acknowledged message is delivered or dead-lettered. It reports what
 * arrived, what went missing, duplicates, throughput, and the server's memory over time.
 *
 *   node --import tsx bench/soak.ts [--messages 50000] [--fail-rate 0.2] [--max-minutes 10]
 *                                   [--retention 30s]
 *
 * The server runs in a child process (`--serve`), as `npm start` would, so its memory is its
 * own; the child reports RSS and heap (after a GC) once a second, and the database's size on disk
 * (file and write-ahead log) is sampled as often: with a `--retention` (SQSTASH_RETENTION) much
 * shorter than the run, it shows the file stop growing. Not part of `npm test`; the
 * test suite runs a small version in-process (test/e2e/soak.test.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { DATABASE_FILE } from '../lambdas/adapters/embedded/sqlite-database';
import { loadEmbeddedConfig } from '../lambdas/embedded/config';
import { DEV_TOKEN } from '../lambdas/embedded/dev-credentials';
import { createJsonLogger } from '../lambdas/embedded/json-logger';
import { startEmbedded } from '../lambdas/embedded/start-embedded';

export type SoakOptions = {
  /** The embedded server's base URL. */
  readonly baseUrl: string;
  readonly token: string;
  readonly messages: number;
  /** Share of attempts the sink answers 500, at random. */
  readonly failRate: number;
  /** `Upstash-Retries` of every message: a message is dead-lettered after retries + 1 failures. */
  readonly retries: number;
  /** Gives up waiting for the last messages after this long. */
  readonly timeoutMs: number;
  /** Messages per `/v2/batch` request, and batches in flight at once. */
  readonly batchSize?: number;
  readonly batchesInFlight?: number;
  /** Called every `progressEveryMs` with a progress line. */
  readonly onProgress?: (progress: SoakProgress) => void;
  readonly progressEveryMs?: number;
};

export type SoakProgress = {
  readonly elapsedMs: number;
  readonly acknowledged: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly attempts: number;
};

export type SoakResult = SoakProgress & {
  readonly published: number;
  /** Acknowledged, but neither delivered nor dead-lettered when the run ended. */
  readonly missing: number;
  /** Messages answered 2xx more than once. */
  readonly duplicates: number;
  /** Dead letters the server lists (`/v2/dlq`), to cross-check the sink's count. */
  readonly deadLettersListed: number;
  /** Messages both delivered and dead-lettered: never expected. */
  readonly deliveredAndDeadLettered: number;
  readonly publishMs: number;
  readonly timedOut: boolean;
};

const DEFAULTS = { messages: 50_000, failRate: 0.2, retries: 3, maxMinutes: 10 } as const;
const RETRY_DELAY = '50 * (1 + retried)';
const SAMPLE_EVERY_MS = 1_000;

type Tracked = { attempts: number; successes: number; deadLettered: boolean };

/** A destination that answers 500 to `failRate` of attempts and counts what it saw, per message. */
export async function startFailingSink(
  failRate: number,
  retries: number,
): Promise<{
  url: string;
  tracked: Map<string, Tracked>;
  attempts: () => number;
  stop(): Promise<void>;
}> {
  const tracked = new Map<string, Tracked>();
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      attempts += 1;
      const id = String(req.headers['upstash-message-id']);
      const entry = tracked.get(id) ?? { attempts: 0, successes: 0, deadLettered: false };
      tracked.set(id, entry);
      entry.attempts += 1;
      const fail = Math.random() < failRate;
      if (fail) {
        if (Number(req.headers['upstash-retried']) >= retries) entry.deadLettered = true;
        res.writeHead(500).end('soak failure');
      } else {
        entry.successes += 1;
        res.writeHead(200).end();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tracked,
    attempts: () => attempts,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Publishes `messages` through `/v2/batch` and waits until each is delivered or dead-lettered. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { baseUrl, token, messages, failRate, retries, timeoutMs } = options;
  const batchSize = options.batchSize ?? 100;
  const batchesInFlight = options.batchesInFlight ?? 4;
  const sink = await startFailingSink(failRate, retries);
  const agent = new Agent({ connections: batchesInFlight + 2 });
  const acknowledged = new Set<string>();
  const started = Date.now();
  const progress = (): SoakProgress => {
    let delivered = 0;
    let deadLettered = 0;
    for (const id of acknowledged) {
      const entry = sink.tracked.get(id);
      if (entry?.successes) delivered += 1;
      else if (entry?.deadLettered) deadLettered += 1;
    }
    return {
      elapsedMs: Date.now() - started,
      acknowledged: acknowledged.size,
      delivered,
      deadLettered,
      attempts: sink.attempts(),
    };
  };
  const reporter =
    options.onProgress &&
    setInterval(() => options.onProgress?.(progress()), options.progressEveryMs ?? 5_000);
  const api = async (method: string, path: string, body?: string) => {
    const response = await request(`${baseUrl}${path}`, {
      dispatcher: agent,
      method: method as 'GET' | 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as unknown;
  };

  try {
    let next = 0;
    const publisher = async () => {
      while (next < messages) {
        const first = next;
        next = Math.min(messages, next + batchSize);
        const batch = [];
        for (let index = first; index < next; index += 1) {
          batch.push({
            destination: `${sink.url}/soak`,
            headers: { 'Upstash-Retries': String(retries), 'Upstash-Retry-Delay': RETRY_DELAY },
            body: JSON.stringify({ index }),
          });
        }
        const answers = (await api('POST', '/v2/batch', JSON.stringify(batch))) as Array<{
          messageId?: string;
        }>;
        for (const answer of answers) if (answer.messageId) acknowledged.add(answer.messageId);
      }
    };
    await Promise.all(Array.from({ length: batchesInFlight }, publisher));
    const publishMs = Date.now() - started;

    let current = progress();
    while (
      current.delivered + current.deadLettered < current.acknowledged &&
      current.elapsedMs < timeoutMs
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      current = progress();
    }
    // A dead letter is stored just after its last attempt is answered; let the store catch up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    let deadLettersListed = 0;
    let cursor: string | undefined;
    do {
      const page = (await api(
        'GET',
        `/v2/dlq?count=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )) as { messages: unknown[]; cursor?: string };
      deadLettersListed += page.messages.length;
      cursor = page.cursor;
    } while (cursor);

    let duplicates = 0;
    let deliveredAndDeadLettered = 0;
    for (const id of acknowledged) {
      const entry = sink.tracked.get(id);
      if (entry && entry.successes > 1) duplicates += 1;
      if (entry?.successes && entry.deadLettered) deliveredAndDeadLettered += 1;
    }
    const final = progress();
    return {
      ...final,
      published: messages,
      missing: final.acknowledged - final.delivered - final.deadLettered,
      duplicates,
      deadLettersListed,
      deliveredAndDeadLettered,
      publishMs,
      timedOut: current.elapsedMs >= timeoutMs,
    };
  } finally {
    if (reporter) clearInterval(reporter);
    await agent.close();
    await sink.stop();
  }
}

type MemorySample = { atMs: number; rssMiB: number; heapMiB: number };
type FileSample = { atMs: number; mb: number };

/** The database file and its write-ahead log, in MB. */
function databaseMb(dataDir: string): number {
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  const path = join(dataDir, DATABASE_FILE);
  return Math.round((size(path) + size(`${path}-wal`)) / 1e5) / 10;
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** The child: the embedded server, reporting its URL and then its memory to the parent. */
async function serve(dataDir: string): Promise<void> {
  const config = loadEmbeddedConfig({ ...process.env, PORT: '0', SQSTASH_DATA_DIR: dataDir });
  // Failed attempts log a warning each; the soak has thousands, and counts them itself.
  const server = await startEmbedded(config, createJsonLogger('error'));
  const gc = (globalThis as { gc?: () => void }).gc;
  const started = Date.now();
  const sample = () => {
    gc?.();
    const usage = process.memoryUsage();
    process.send?.({
      type: 'memory',
      sample: { atMs: Date.now() - started, rssMiB: mib(usage.rss), heapMiB: mib(usage.heapUsed) },
    });
  };
  setInterval(sample, SAMPLE_EVERY_MS).unref();
  process.send?.({ type: 'ready', url: server.url });
  process.on('disconnect', () => {
    server.stop().then(() => process.exit(0));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      messages: { type: 'string', default: String(DEFAULTS.messages) },
      'fail-rate': { type: 'string', default: String(DEFAULTS.failRate) },
      retries: { type: 'string', default: String(DEFAULTS.retries) },
      'max-minutes': { type: 'string', default: String(DEFAULTS.maxMinutes) },
      retention: { type: 'string' },
    },
  });
  if (values.serve) return serve(values.serve);

  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-soak-'));
  const child: ChildProcess = fork(__filename, ['--serve', dataDir], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    env: {
      ...process.env,
      SQSTASH_LOG_LEVEL: 'error',
      ...(values.retention !== undefined && { SQSTASH_RETENTION: values.retention }),
    },
  });
  const memory: MemorySample[] = [];
  const files: FileSample[] = [];
  const soakStarted = Date.now();
  const fileSampler = setInterval(
    () => files.push({ atMs: Date.now() - soakStarted, mb: databaseMb(dataDir) }),
    SAMPLE_EVERY_MS,
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type: string; url?: string; sample?: MemorySample }) => {
      if (message.type === 'ready') resolve(message.url!);
      if (message.type === 'memory') memory.push(message.sample!);
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
  const messages = Number(values.messages);
  console.log(
    `soak: ${messages} messages, ${Number(values['fail-rate']) * 100}% of attempts fail, ` +
      `Upstash-Retries ${values.retries}, Upstash-Retry-Delay "${RETRY_DELAY}", ` +
      `SQSTASH_RETENTION ${values.retention ?? 'default (14d)'}; server ${url}`,
  );
  try {
    const result = await runSoak({
      baseUrl: url,
      token: DEV_TOKEN,
      messages,
      failRate: Number(values['fail-rate']),
      retries: Number(values.retries),
      timeoutMs: Number(values['max-minutes']) * 60_000,
      onProgress: (progress) => {
        const last = memory.at(-1);
        console.log(
          `  ${(progress.elapsedMs / 1000).toFixed(0).padStart(4)}s  acknowledged ${progress.acknowledged}` +
            `  delivered ${progress.delivered}  dead-lettered ${progress.deadLettered}` +
            `  attempts ${progress.attempts}  server rss ${last?.rssMiB ?? '?'} MiB heap ${last?.heapMiB ?? '?'} MiB` +
            `  database ${files.at(-1)?.mb ?? '?'} MB`,
        );
      },
    });
    report(result, memory);
    reportFiles(files);
    process.exitCode = result.missing === 0 && !result.timedOut ? 0 : 1;
  } finally {
    clearInterval(fileSampler);
    child.disconnect();
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(result: SoakResult, memory: readonly MemorySample[]): void {
  const seconds = result.elapsedMs / 1000;
  const quarter = (fraction: number) =>
    memory[Math.min(memory.length - 1, Math.floor(memory.length * fraction))];
  const rss = memory.map((sample) => sample.rssMiB);
  const heap = memory.map((sample) => sample.heapMiB);
  // Memory once the run is under way (first 10% of samples skipped): flat means no trend.
  const steady = memory.slice(Math.floor(memory.length / 10));
  console.log(
    [
      '',
      `published ${result.published}, acknowledged ${result.acknowledged}`,
      `delivered ${result.delivered}, dead-lettered ${result.deadLettered} (the server lists ${result.deadLettersListed}; with a short --retention, older ones are already swept), missing ${result.missing}${result.timedOut ? ' (timed out)' : ''}`,
      `duplicates ${result.duplicates}, delivered and dead-lettered ${result.deliveredAndDeadLettered}`,
      `attempts ${result.attempts} (${(result.attempts / result.acknowledged).toFixed(3)} per message)`,
      `duration ${seconds.toFixed(1)} s: published in ${(result.publishMs / 1000).toFixed(1)} s (${Math.round(result.acknowledged / (result.publishMs / 1000))} msg/s), ` +
        `${Math.round((result.delivered + result.deadLettered) / seconds)} messages settled/s, ${Math.round(result.attempts / seconds)} attempts/s`,
      `server memory (after GC), MiB: rss min ${Math.min(...rss)} max ${Math.max(...rss)}, heap min ${Math.min(...heap)} max ${Math.max(...heap)}`,
      `  at 25% / 50% / 75% / end of the run: rss ${[0.25, 0.5, 0.75, 1].map((f) => quarter(f)?.rssMiB).join(' / ')}, heap ${[0.25, 0.5, 0.75, 1].map((f) => quarter(f)?.heapMiB).join(' / ')}`,
      `  steady state (from 10% of the run): rss ${Math.min(...steady.map((s) => s.rssMiB))}-${Math.max(...steady.map((s) => s.rssMiB))}, heap ${Math.min(...steady.map((s) => s.heapMiB))}-${Math.max(...steady.map((s) => s.heapMiB))}`,
    ].join('\n'),
  );
}

function reportFiles(files: readonly FileSample[]): void {
  if (files.length === 0) return;
  const at = (fraction: number) =>
    files[Math.min(files.length - 1, Math.floor(files.length * fraction))]!;
  const tenths = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map(at);
  const sizes = files.map((sample) => sample.mb);
  console.log(
    [
      `database + WAL on disk, MB: max ${Math.max(...sizes)}, at the end ${files.at(-1)!.mb}`,
      `  over the run: ${tenths.map((sample) => `${(sample.atMs / 1000).toFixed(0)}s ${sample.mb}`).join(', ')}`,
    ].join('\n'),
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
