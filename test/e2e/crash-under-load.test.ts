import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMBEDDED_DEFAULTS } from '../../lambdas/embedded/config';
import { DEV_TOKEN, eventually } from '../helpers/embedded-server';
import { readAnswer } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer } from '../helpers/server-process';

const KILLS = 4;
const PUBLISHERS = 4;
/**
 * Each life of the server lasts until it has acknowledged this many new messages, then a random
 * moment more (up to the jitter), so every kill lands mid-load however fast the machine is.
 */
const ACKNOWLEDGED_PER_LIFE = 100;
const KILL_JITTER_MS = 400;
const LIFE_DEADLINE_MS = 20_000;
/** Every fifth message fails its first attempt, so retries are in flight when the kill comes. */
const FAIL_FIRST_EVERY = 5;
const MAX_REPLY_DELAY_MS = 40;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('crash safety under load (repeated kill -9 while publishing and delivering)', () => {
  let dataDir: string;
  let sink: TestReceiver;
  let server: ServerProcess | undefined;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-crash-load-'));
    sink = await TestReceiver.start((request) => {
      const index = Number(request.body.toString());
      const firstTry = request.headers['upstash-retried'] === '0';
      return {
        status: firstTry && index % FAIL_FIRST_EVERY === 0 ? 503 : 200,
        delayMs: Math.floor(Math.random() * MAX_REPLY_DELAY_MS),
      };
    });
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) await killHard(server);
    await sink.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers every acknowledged message at least once across repeated kills', async () => {
    const acknowledged = new Map<string, number>();
    let published = 0;
    let baseUrl = '';
    let publishing = true;

    // Each publisher sends one message after another; one the server did not answer 200 to
    // (it was killed, or not up yet) is not acknowledged, and need not arrive.
    const publisher = async () => {
      while (publishing) {
        const index = published++;
        try {
          const response = await fetch(`${baseUrl}/v2/publish/${sink.url}/load`, {
            method: 'POST',
            headers: {
              Authorization: `Bearer ${DEV_TOKEN}`,
              'Upstash-Retries': '3',
              'Upstash-Retry-Delay': '100',
            },
            body: String(index),
          });
          const answer = await readAnswer(response);
          if (answer.status !== 200) throw new Error(`publish answered ${answer.status}`);
          acknowledged.set((answer.json as { messageId: string }).messageId, index);
        } catch {
          await sleep(20);
        }
      }
    };

    const publishers: Promise<void>[] = [];
    for (let life = 0; life <= KILLS; life += 1) {
      server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });
      baseUrl = server.url;
      if (life === 0) for (let i = 0; i < PUBLISHERS; i += 1) publishers.push(publisher());
      if (life === KILLS) break;
      const target = acknowledged.size + ACKNOWLEDGED_PER_LIFE;
      await eventually(
        () => expect(acknowledged.size).toBeGreaterThanOrEqual(target),
        LIFE_DEADLINE_MS,
        20,
      );
      await sleep(Math.random() * KILL_JITTER_MS);
      await killHard(server);
    }
    publishing = false;
    await Promise.all(publishers);

    // Assess: after the last restart, every acknowledged message arrives with a 2xx answer.
    const answered = () => {
      const counts = new Map<string, number>();
      for (const request of sink.requests) {
        const index = Number(request.body.toString());
        if (request.headers['upstash-retried'] === '0' && index % FAIL_FIRST_EVERY === 0) continue;
        const id = String(request.headers['upstash-message-id']);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    };
    await eventually(
      () => {
        const counts = answered();
        expect([...acknowledged.keys()].filter((id) => !counts.has(id))).toEqual([]);
      },
      30_000,
      200,
    );
    const counts = answered();
    const duplicates = [...counts.values()].filter((count) => count > 1).length;
    const deadLetters = (
      await readAnswer(
        await fetch(`${server!.url}/v2/dlq`, { headers: { Authorization: `Bearer ${DEV_TOKEN}` } }),
      )
    ).json as { messages: unknown[] };

    expect(acknowledged.size).toBeGreaterThanOrEqual(KILLS * ACKNOWLEDGED_PER_LIFE);
    expect(deadLetters.messages).toEqual([]);
    // At-least-once allows duplicates: only attempts cut off by a kill are repeated, so each
    // kill repeats at most the attempts it found in flight.
    expect(duplicates).toBeLessThanOrEqual(KILLS * EMBEDDED_DEFAULTS.deliveryConcurrency);
    // Attempts answered 2xx for messages whose publish was cut off before its answer arrived.
    expect(counts.size - acknowledged.size).toBeLessThan(PUBLISHERS * (KILLS + 1));
  }, 90_000);
});
