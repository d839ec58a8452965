/**
 * The console's reads with many messages stored: how long each request the console makes takes
 * against a database holding `--messages` messages (most delivered, some failed, some pending),
 * next to `GET /v2/queues` (a trivial authenticated read) measured in the same run.
 *
 *   node --import tsx bench/console-at-scale.ts [--messages 100000] [--rounds 20]
 *
 * The messages are written straight through the SQLite store (publishing 100,000 through HTTP
 * would measure publishing); the reads go through the real server over HTTP. Not part of
 * `npm test` or `npm run bench` (it takes about a minute to seed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../lambdas/adapters/embedded/sqlite-message-store';
import type { Message } from '../lambdas/core/message';
import { loadEmbeddedConfig } from '../lambdas/embedded/config';
import { DEV_TOKEN } from '../lambdas/embedded/dev-credentials';
import { startEmbedded } from '../lambdas/embedded/start-embedded';
import type { AttemptSettlement } from '../lambdas/ports/message-store';
import { jsonBody } from './config';
import { percentiles } from './lib/stats';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '20' },
  },
});
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const FAILED_EVERY = 20;
const PENDING_EVERY = 20;
const BATCH = 2_000;
const T0 = Date.now() - MESSAGES * 10;
const body = new TextEncoder().encode(jsonBody());

function messageAt(index: number): Message {
  const createdAt = T0 + index * 10;
  return {
    messageId: `msg_${String(index).padStart(8, '0')}`,
    url: `https://hooks.example.com/orders/${index % 50}`,
    method: 'POST',
    header: { 'Content-Type': ['application/json'] },
    body,
    maxRetries: 0,
    timeoutMs: 30_000,
    // Pending ones are due in an hour, so the server's worker leaves them be.
    notBefore: index % PENDING_EVERY === 1 ? Date.now() + 3_600_000 : createdAt,
    createdAt,
    labels: index % 1_000 === 0 ? ['rare'] : ['common'],
  };
}

function settlementOf(message: Message, index: number): AttemptSettlement | undefined {
  if (index % PENDING_EVERY === 1) return undefined;
  const time = message.createdAt + 5;
  const base = { messageId: message.messageId, url: message.url };
  if (index % FAILED_EVERY === 0) {
    return {
      message,
      retried: 0,
      outcome: {
        kind: 'failed',
        deadLetter: {
          dlqId: `${time}-0`,
          messageId: message.messageId,
          failedAt: time,
          responseStatus: 500,
          responseHeader: {},
          responseBody: new TextEncoder().encode('boom'),
          error: 'destination answered 500: boom',
        },
      },
      events: [
        { ...base, time, state: 'ACTIVE' },
        { ...base, time, state: 'ERROR', responseStatus: 500, error: 'destination answered 500' },
        { ...base, time, state: 'FAILED', error: 'destination answered 500' },
      ],
      callbacks: [],
    };
  }
  return {
    message,
    retried: 0,
    outcome: { kind: 'delivered' },
    events: [
      { ...base, time, state: 'ACTIVE' },
      { ...base, time, state: 'DELIVERED', responseStatus: 200 },
    ],
    callbacks: [],
  };
}

async function seed(dataDir: string): Promise<void> {
  const db = openDatabase(dataDir, 'NORMAL');
  const store = new SqliteMessageStore(db);
  for (let start = 0; start < MESSAGES; start += BATCH) {
    // One transaction a batch; each store call nests as a savepoint.
    db.exec('BEGIN');
    for (let index = start; index < Math.min(start + BATCH, MESSAGES); index += 1) {
      const message = messageAt(index);
      await store.insertMessage(message, undefined, message.createdAt);
      const settlement = settlementOf(message, index);
      if (settlement) await store.settleAttempt(settlement);
    }
    db.exec('COMMIT');
  }
  db.close();
}

async function timeRequest(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { Authorization: `Bearer ${DEV_TOKEN}` } });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sqstash-console-scale-'));
  try {
    const seeding = performance.now();
    await seed(dataDir);
    console.log(`seeded ${MESSAGES} messages in ${Math.round(performance.now() - seeding)} ms`);
    const server = await startEmbedded(
      loadEmbeddedConfig({ PORT: '0', SQSTASH_DATA_DIR: dataDir }),
      { debug() {}, info() {}, warn() {}, error() {} },
    );
    try {
      const middle = `msg_${String(Math.floor(MESSAGES / 2)).padStart(8, '0')}`;
      const requests: [string, string][] = [
        ['baseline: GET /v2/queues', '/v2/queues'],
        ['messages, any state, first page', '/v2/console/messages?count=50'],
        ['messages, pending', '/v2/console/messages?status=pending&count=50'],
        ['messages, delivered', '/v2/console/messages?status=delivered&count=50'],
        ['messages, failed', '/v2/console/messages?status=failed&count=50'],
        ['messages, label=rare (1 in 1000)', '/v2/console/messages?label=rare&count=50'],
        ['messages, oldest first', '/v2/console/messages?order=earliestFirst&count=50'],
        ['one message story', `/v2/console/messages/${middle}`],
        ['DLQ, first page', '/v2/dlq?count=50'],
        [
          'live poll, nothing new',
          `/v2/events?order=earliestFirst&count=1000&cursor=${Date.now()}`,
        ],
      ];
      const rows: string[] = [];
      let baseline = 0;
      for (const [name, path] of requests) {
        await timeRequest(`${server.url}${path}`);
        const samples: number[] = [];
        for (let round = 0; round < ROUNDS; round += 1) {
          samples.push(await timeRequest(`${server.url}${path}`));
        }
        const { p50, p99 } = percentiles(samples);
        if (baseline === 0) baseline = p50;
        rows.push(
          `| ${name} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${(p50 / baseline).toFixed(1)}x |`,
        );
      }
      console.log(
        [
          `| request (${MESSAGES} messages stored) | median ms | p99 ms | median vs baseline |`,
          '|---|---|---|---|',
          ...rows,
        ].join('\n'),
      );
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
