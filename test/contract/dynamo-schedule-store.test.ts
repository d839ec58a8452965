import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoScheduleStore } from '../../lambdas/adapters/aws/dynamo-schedule-store';
import type { Dynalite } from '../helpers/dynalite';
import { T0 } from '../helpers/messages';
import { useDynalite } from './dynamo-stores';
import { describeScheduleStoreContract, makeSchedule as schedule } from './schedule-store.contract';

const server = useDynalite();

describeScheduleStoreContract('DynamoScheduleStore', async () => {
  const tableName = await server().createTable();
  return {
    store: new DynamoScheduleStore({ client: server().client, tableName }),
    cleanup: () => server().deleteTable(tableName),
  };
});

/** The keys of every item of a table, for checking what a store leaves behind. */
async function allItems(dynalite: Dynalite, tableName: string) {
  const output = await DynamoDBDocumentClient.from(dynalite.client).send(
    new ScanCommand({ TableName: tableName }),
  );
  return (output.Items ?? []).map((item) => ({ pk: item.pk as string, sk: item.sk as string }));
}

describe('DynamoScheduleStore on DynamoDB', () => {
  let tableName: string;
  let store: DynamoScheduleStore;

  beforeEach(async () => {
    tableName = await server().createTable();
    store = new DynamoScheduleStore({ client: server().client, tableName });
  });
  afterEach(async () => {
    await server().deleteTable(tableName);
  });

  it('keeps a body larger than one item in parts, and reads it back whole', async () => {
    const body = Buffer.alloc(720_000);
    for (let index = 0; index < body.length; index += 1) body[index] = index % 251;

    await store.putSchedule(schedule({ body }), undefined, T0);

    // Buffer#equals: jest's toEqual walks 720,000 elements one by one.
    expect(Buffer.from((await store.getSchedule('scd_1'))!.body).equals(body)).toBe(true);
    expect(Buffer.from((await store.listSchedules())[0]!.body).equals(body)).toBe(true);
    const parts = (await allItems(server(), tableName)).filter((item) =>
      item.sk.startsWith('PART#'),
    );
    expect(parts).toHaveLength(2);
  });

  it('deletes the parts of a replaced or deleted schedule', async () => {
    await store.putSchedule(schedule({ body: Buffer.alloc(720_000, 1) }), undefined, T0);
    await store.putSchedule(schedule({ body: Buffer.alloc(400_000, 2) }), undefined, T0);

    expect(Buffer.from((await store.getSchedule('scd_1'))!.body)).toEqual(Buffer.alloc(400_000, 2));
    expect(
      (await allItems(server(), tableName)).filter((item) => item.sk.startsWith('PART#')),
    ).toEqual([expect.objectContaining({ sk: expect.stringMatching(/^PART#[0-9a-f]+#000$/) })]);

    expect(await store.deleteSchedule('scd_1')).toBe(true);
    expect(await allItems(server(), tableName)).toEqual([]);
  });

  it('deletes the replaced body parts when a deduplicated creation replaces a schedule', async () => {
    await store.putSchedule(schedule({ body: Buffer.alloc(400_000, 1) }), undefined, T0);

    const result = await store.putSchedule(
      schedule({ body: Buffer.alloc(400_000, 2) }),
      { key: 'id:replace', expiresAt: T0 + 60_000 },
      T0,
    );

    expect(result).toEqual({ created: true });
    const parts = (await allItems(server(), tableName)).filter((item) =>
      item.sk.startsWith('PART#'),
    );
    expect(parts).toHaveLength(1);
    expect(Buffer.from((await store.getSchedule('scd_1'))!.body)[399_999]).toBe(2);
  });

  it('leaves the parts of one body only when two deduplicated creations replace one id at once', async () => {
    await store.putSchedule(schedule({ body: Buffer.alloc(400_000, 1) }), undefined, T0);

    const results = await Promise.all(
      [2, 3].map((fill) =>
        store.putSchedule(
          schedule({ body: Buffer.alloc(400_000, fill) }),
          { key: `id:${fill}`, expiresAt: T0 + 60_000 },
          T0,
        ),
      ),
    );

    expect(results).toEqual([{ created: true }, { created: true }]);
    const parts = (await allItems(server(), tableName)).filter((item) =>
      item.sk.startsWith('PART#'),
    );
    expect(parts).toHaveLength(1);
    expect([2, 3]).toContain(Buffer.from((await store.getSchedule('scd_1'))!.body)[399_999]);
  });

  it('leaves nothing but the holder behind when a large schedule loses its dedup key', async () => {
    const dedup = { key: 'id:once', expiresAt: T0 + 60_000 };
    await store.putSchedule(schedule({ scheduleId: 'scd_1' }), dedup, T0);

    const second = await store.putSchedule(
      schedule({ scheduleId: 'scd_2', body: Buffer.alloc(400_000) }),
      dedup,
      T0 + 1,
    );

    expect(second).toEqual({ created: false, existingScheduleId: 'scd_1' });
    expect((await allItems(server(), tableName)).map((item) => item.pk).sort()).toEqual([
      'DEDUP#id:once',
      'SCHEDULES',
    ]);
  });

  it('lets one of two racing creations hold the key, and the loser removes its body parts', async () => {
    const dedup = { key: 'id:race', expiresAt: T0 + 60_000 };

    const results = await Promise.all([
      store.putSchedule(
        schedule({ scheduleId: 'scd_a', body: Buffer.alloc(400_000, 1) }),
        dedup,
        T0,
      ),
      store.putSchedule(
        schedule({ scheduleId: 'scd_b', body: Buffer.alloc(400_000, 2) }),
        dedup,
        T0,
      ),
    ]);

    const winner = results[0].created ? 'scd_a' : 'scd_b';
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(results.find((result) => !result.created)).toEqual({
      created: false,
      existingScheduleId: winner,
    });
    expect((await store.listSchedules()).map((found) => found.scheduleId)).toEqual([winner]);
    expect(
      (await allItems(server(), tableName)).filter((item) => item.sk.startsWith('PART#')),
    ).toEqual([expect.objectContaining({ pk: `SCHEDULE#${winner}` })]);
  });

  it('holds a dedup key too long for a partition key, by its hash', async () => {
    const longClaim = { key: `id:${'x'.repeat(3_000)}`, expiresAt: T0 + 60_000 };
    await store.putSchedule(schedule({ scheduleId: 'scd_1' }), longClaim, T0);

    const again = await store.putSchedule(schedule({ scheduleId: 'scd_2' }), longClaim, T0 + 1);

    expect(again).toEqual({ created: false, existingScheduleId: 'scd_1' });
  });

  it('takes over a claim whose stored expiry passed, though TTL has not deleted it', async () => {
    const dedup = { key: 'id:once', expiresAt: T0 + 60_000 };
    await store.putSchedule(schedule({ scheduleId: 'scd_1' }), dedup, T0);

    const later = await store.putSchedule(
      schedule({ scheduleId: 'scd_2' }),
      { key: 'id:once', expiresAt: T0 + 120_000 },
      T0 + 60_000,
    );

    expect(later).toEqual({ created: true });
    expect(await store.getSchedule('scd_2')).toBeDefined();
  });

  it('deduplicates schedules apart from messages: the claim has its own sort key', async () => {
    await store.putSchedule(schedule(), { key: 'id:shared', expiresAt: T0 + 60_000 }, T0);

    const claims = (await allItems(server(), tableName)).filter((item) =>
      item.pk.startsWith('DEDUP#'),
    );

    expect(claims).toEqual([expect.objectContaining({ pk: 'DEDUP#id:shared', sk: 'SCHEDULE' })]);
  });
});
