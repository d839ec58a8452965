import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_TOKEN } from '../helpers/embedded-server';
import type { ServerProcess } from '../helpers/server-process';
import { killHard, spawnServer } from '../helpers/server-process';

const ENDPOINTS = 40;
const KILLS = 3;
const PUBLISHERS = 6;
/** How long each life of the server lasts before it is killed: a random point in this range. */
const LIFE_MS = [600, 1_400] as const;
const GROUP = 'fan-out';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(baseUrl: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${DEV_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Every CREATED log entry, as the label of its publish, counted. */
async function storedPerPublish(baseUrl: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const query = `state=CREATED&count=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = (await api(baseUrl, 'GET', `/v2/events?${query}`)).json as {
      events: { labels?: string[] }[];
      cursor?: string;
    };
    for (const event of page.events) {
      const label = event.labels?.[0] ?? '';
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    cursor = page.cursor;
  } while (cursor);
  return counts;
}

describe('a URL-group publish under kill -9 (fan-out is all or none)', () => {
  let dataDir: string;
  let server: ServerProcess | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-crash-fan-out-'));
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) await killHard(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('leaves every publish with all of its endpoints’ messages or none, across repeated kills', async () => {
    server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });
    // The endpoints are never reached: every message is due in a day, so what was stored stays.
    for (let index = 0; index < ENDPOINTS; index += 1) {
      const added = await api(server.url, 'POST', `/v2/topics/${GROUP}/endpoints`, {
        endpoints: [{ url: `http://127.0.0.1:9/endpoint-${index}` }],
      });
      expect(added.status).toBe(200);
    }

    const acknowledged = new Set<string>();
    const attempted = new Set<string>();
    let next = 0;
    let baseUrl = server.url;
    let publishing = true;
    const publisher = async () => {
      while (publishing) {
        const label = `publish-${next++}`;
        attempted.add(label);
        try {
          const response = await fetch(`${baseUrl}/v2/publish/${GROUP}`, {
            method: 'POST',
            headers: {
              Authorization: `Bearer ${DEV_TOKEN}`,
              'Upstash-Delay': '1d',
              'Upstash-Label': label,
            },
            body: label,
          });
          if (response.status !== 200) throw new Error(`publish answered ${response.status}`);
          const answer = (await response.json()) as unknown[];
          if (answer.length === ENDPOINTS) acknowledged.add(label);
        } catch {
          await sleep(20);
        }
      }
    };

    const publishers = Array.from({ length: PUBLISHERS }, publisher);
    for (let life = 0; life < KILLS; life += 1) {
      await sleep(LIFE_MS[0] + Math.random() * (LIFE_MS[1] - LIFE_MS[0]));
      await killHard(server);
      server = await spawnServer({ SQSTASH_DATA_DIR: dataDir });
      baseUrl = server.url;
    }
    publishing = false;
    await Promise.all(publishers);

    const stored = await storedPerPublish(server.url);
    const partial = [...stored].filter(([, count]) => count !== ENDPOINTS);
    expect(partial).toEqual([]);
    for (const label of acknowledged) expect(stored.get(label)).toBe(ENDPOINTS);
    // Publishes the kills cut off: each is there whole or not at all (checked above).
    expect(attempted.size).toBeGreaterThan(acknowledged.size);
    expect(acknowledged.size).toBeGreaterThan(0);
  }, 60_000);
});
