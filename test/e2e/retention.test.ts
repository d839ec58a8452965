import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@upstash/qstash';
import { DATABASE_FILE } from '../../lambdas/adapters/embedded/sqlite-database';
import type { TestServer } from '../helpers/embedded-server';
import { eventually, useSdkSuite } from '../helpers/embedded-server';

const ROUNDS = 6;
const PER_ROUND = 800;
const BODY = 'x'.repeat(2_048);
const BATCH = 100;

/** The database as it lies on disk: the main file and its write-ahead log. */
function databaseBytes(server: TestServer): number {
  const path = join(server.dataDir, DATABASE_FILE);
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

async function publishRound(client: Client, url: string, round: number): Promise<string[]> {
  const ids: string[] = [];
  for (let first = 0; first < PER_ROUND; first += BATCH) {
    const answers = await client.batch(
      Array.from({ length: BATCH }, (_, index) => ({
        url: `${url}/round-${round}/${first + index}`,
        body: BODY,
      })),
    );
    for (const answer of answers) {
      if (!('messageId' in answer)) throw new Error('a batch element was not published');
      ids.push(answer.messageId);
    }
  }
  return ids;
}

async function eventsOf(client: Client, messageId: string) {
  return (await client.logs({ filter: { messageId } })).logs;
}

describe('retention (SQSTASH_RETENTION=1s): rounds of delivered messages', () => {
  const suite = useSdkSuite({ SQSTASH_RETENTION: '1s', SQSTASH_LOG_LEVEL: 'error' });

  it('sweeps finished messages with their events and dead letters, keeps pending ones, and the file stops growing', async () => {
    const { client, server } = suite;
    const sink = await suite.startReceiver((request) => ({
      status: request.path.startsWith('/failing') ? 500 : 200,
    }));
    const pending = await client.publish({
      url: `${sink.url}/later`,
      body: 'later',
      delay: 86_400,
    });
    const failing = await client.publish({ url: `${sink.url}/failing`, body: 'x', retries: 0 });
    await eventually(async () =>
      expect((await client.dlq.listMessages()).messages).toHaveLength(1),
    );

    const sizes: number[] = [];
    const rounds: string[][] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const arrivedBefore = sink.requests.length;
      const ids = await publishRound(client, sink.url, round);
      rounds.push(ids);
      await eventually(() => expect(sink.requests.length - arrivedBefore).toBe(PER_ROUND), 30_000);
      // Once the round's first message is swept (a second after delivery, at most a second
      // later), the rest of the round goes with it.
      await eventually(async () => expect(await eventsOf(client, ids[0]!)).toEqual([]), 15_000);
      await eventually(async () => expect(await eventsOf(client, ids.at(-1)!)).toEqual([]), 15_000);
      sizes.push(databaseBytes(server));
    }

    // Old messages' events and the dead letter are gone; the pending message is all there.
    for (const id of rounds[0]!.slice(0, 20)) expect(await eventsOf(client, id)).toEqual([]);
    expect(await eventsOf(client, failing.messageId)).toEqual([]);
    expect((await client.dlq.listMessages()).messages).toEqual([]);
    expect((await client.messages.get(pending.messageId)).messageId).toBe(pending.messageId);
    expect((await eventsOf(client, pending.messageId)).map((log) => log.state)).toEqual([
      'CREATED',
    ]);

    // Each round stores about PER_ROUND * 2 KiB. Kept, the rounds after the second would have
    // added four times that; swept, their pages are reused and the file (with a write-ahead
    // log that varies by up to a commit) stays within a round of where it was.
    const roundBytes = PER_ROUND * BODY.length;
    const growthAfterSecondRound = Math.max(...sizes.slice(2)) - sizes[1]!;
    expect(growthAfterSecondRound).toBeLessThan(roundBytes);
    console.log(
      `retention: database + WAL after each of ${ROUNDS} rounds of ${PER_ROUND} messages (MB): ${sizes.map((bytes) => (bytes / 1e6).toFixed(2)).join(', ')}`,
    );
  }, 120_000);
});
