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

/** The database file's size in bytes. */
function databaseBytes(server: TestServer): number {
  return statSync(join(server.dataDir, DATABASE_FILE)).size;
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

    // Each round stores about PER_ROUND * 2 KiB of bodies (some 3 KiB a message in all), six
    // rounds about 7 rounds' worth of bytes. Swept, the file never holds more than a few rounds
    // (the one in flight, and pages the sweeps freed that new rounds reuse; free pages beyond a
    // quarter of the file are handed back), wherever the checkpoints happen to fall. (The
    // write-ahead log is bounded by the checkpointer, sqlite-checkpointer.ts, not by sweeps.)
    const roundBytes = PER_ROUND * BODY.length;
    expect(Math.max(...sizes)).toBeLessThan(3 * roundBytes);
  }, 120_000);
});
