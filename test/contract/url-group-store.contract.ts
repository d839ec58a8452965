import type { UrlGroupStore } from '../../lambdas/ports/url-group-store';
import { T0 } from '../helpers/messages';

export type UrlGroupStoreUnderTest = { store: UrlGroupStore; cleanup(): Promise<void> };

const A = 'https://a.example.com/hook';
const B = 'https://b.example.com/hook?x=1';
const C = 'http://c.example.com:8080/';

/**
 * The behaviour every UrlGroupStore adapter must share, run against each one by its own test
 * file (`sqlite-url-group-store.test.ts`, later a DynamoDB one). Only the port is used here.
 */
export function describeUrlGroupStoreContract(
  name: string,
  makeStore: () => Promise<UrlGroupStoreUnderTest>,
): void {
  describe(`${name} (UrlGroupStore contract)`, () => {
    let subject: UrlGroupStoreUnderTest;
    let store: UrlGroupStore;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    describe('upsertEndpoints', () => {
      it('creates a missing group with its endpoints in the order given', async () => {
        const result = await store.upsertEndpoints(
          'orders',
          [{ url: A, name: 'first' }, { url: B }],
          T0,
        );

        expect(result).toEqual({ upserted: true });
        expect(await store.getGroup('orders')).toEqual({
          name: 'orders',
          createdAt: T0,
          updatedAt: T0,
          endpoints: [{ url: A, name: 'first' }, { url: B }],
        });
      });

      it('appends new urls and replaces known ones in place, keeping createdAt', async () => {
        await store.upsertEndpoints('orders', [{ url: A }, { url: B, name: 'b' }], T0);

        await store.upsertEndpoints('orders', [{ url: C }, { url: A, name: 'a' }], T0 + 5);

        expect(await store.getGroup('orders')).toEqual({
          name: 'orders',
          createdAt: T0,
          updatedAt: T0 + 5,
          endpoints: [{ url: A, name: 'a' }, { url: B, name: 'b' }, { url: C }],
        });
      });

      it('drops the name of a known url upserted without one', async () => {
        await store.upsertEndpoints('orders', [{ url: A, name: 'a' }], T0);

        await store.upsertEndpoints('orders', [{ url: A }], T0 + 1);

        expect((await store.getGroup('orders'))?.endpoints).toEqual([{ url: A }]);
      });

      it('refuses, writing nothing, a name another url of the group holds', async () => {
        await store.upsertEndpoints('orders', [{ url: A, name: 'primary' }], T0);

        const result = await store.upsertEndpoints(
          'orders',
          [{ url: C }, { url: B, name: 'primary' }],
          T0 + 1,
        );

        expect(result).toEqual({
          upserted: false,
          conflict: { name: 'primary', heldByUrl: A, wantedByUrl: B },
        });
        expect(await store.getGroup('orders')).toEqual({
          name: 'orders',
          createdAt: T0,
          updatedAt: T0,
          endpoints: [{ url: A, name: 'primary' }],
        });
      });

      it('lets one call move a name from one url to another', async () => {
        await store.upsertEndpoints('orders', [{ url: A, name: 'primary' }, { url: B }], T0);

        const result = await store.upsertEndpoints(
          'orders',
          [
            { url: A, name: 'old' },
            { url: B, name: 'primary' },
          ],
          T0 + 1,
        );

        expect(result).toEqual({ upserted: true });
        expect((await store.getGroup('orders'))?.endpoints).toEqual([
          { url: A, name: 'old' },
          { url: B, name: 'primary' },
        ]);
      });

      it('allows one name in two different groups', async () => {
        await store.upsertEndpoints('one', [{ url: A, name: 'primary' }], T0);

        const result = await store.upsertEndpoints('two', [{ url: B, name: 'primary' }], T0);

        expect(result).toEqual({ upserted: true });
        expect((await store.getGroup('two'))?.endpoints).toEqual([{ url: B, name: 'primary' }]);
      });
    });

    describe('removeEndpoints', () => {
      beforeEach(async () => {
        await store.upsertEndpoints(
          'orders',
          [{ url: A, name: 'a' }, { url: B, name: 'b' }, { url: C }],
          T0,
        );
      });

      it('removes by url and by name, keeping the order of the rest', async () => {
        const result = await store.removeEndpoints('orders', [{ url: A }, { name: 'b' }], T0 + 1);

        expect(result).toEqual({ removed: 2, groupDeleted: false });
        expect(await store.getGroup('orders')).toEqual({
          name: 'orders',
          createdAt: T0,
          updatedAt: T0 + 1,
          endpoints: [{ url: C }],
        });
      });

      it('removes an endpoint given both fields only when both match', async () => {
        const mismatch = await store.removeEndpoints('orders', [{ url: A, name: 'b' }], T0 + 1);
        const match = await store.removeEndpoints('orders', [{ url: B, name: 'b' }], T0 + 2);

        expect(mismatch).toEqual({ removed: 0, groupDeleted: false });
        expect(match).toEqual({ removed: 1, groupDeleted: false });
        expect((await store.getGroup('orders'))?.endpoints).toEqual([
          { url: A, name: 'a' },
          { url: C },
        ]);
      });

      it('leaves the group and its updatedAt alone when nothing matches', async () => {
        const result = await store.removeEndpoints(
          'orders',
          [{ url: 'https://unknown.example.com' }, { name: 'nobody' }],
          T0 + 1,
        );

        expect(result).toEqual({ removed: 0, groupDeleted: false });
        expect((await store.getGroup('orders'))?.updatedAt).toBe(T0);
        expect((await store.getGroup('orders'))?.endpoints).toHaveLength(3);
      });

      it('deletes the group with its last endpoint', async () => {
        const result = await store.removeEndpoints(
          'orders',
          [{ name: 'a' }, { name: 'b' }, { url: C }],
          T0 + 1,
        );

        expect(result).toEqual({ removed: 3, groupDeleted: true });
        expect(await store.getGroup('orders')).toBeUndefined();
        expect(await store.listGroups()).toEqual([]);
      });

      it('starts afresh when a deleted group is created again', async () => {
        await store.removeEndpoints('orders', [{ url: A }, { url: B }, { url: C }], T0 + 1);

        await store.upsertEndpoints('orders', [{ url: B, name: 'a' }], T0 + 2);

        expect(await store.getGroup('orders')).toEqual({
          name: 'orders',
          createdAt: T0 + 2,
          updatedAt: T0 + 2,
          endpoints: [{ url: B, name: 'a' }],
        });
      });

      it('resolves undefined for a group that does not exist', async () => {
        expect(await store.removeEndpoints('missing', [{ url: A }], T0)).toBeUndefined();
        expect(await store.getGroup('missing')).toBeUndefined();
      });
    });

    describe('getGroup, listGroups and deleteGroup', () => {
      it('lists nothing when there are no groups', async () => {
        expect(await store.listGroups()).toEqual([]);
      });

      it('lists every group by name, each with its own endpoints', async () => {
        await store.upsertEndpoints('zeta', [{ url: A }], T0);
        await store.upsertEndpoints('alpha', [{ url: B, name: 'b' }, { url: A }], T0 + 1);

        expect(await store.listGroups()).toEqual([
          {
            name: 'alpha',
            createdAt: T0 + 1,
            updatedAt: T0 + 1,
            endpoints: [{ url: B, name: 'b' }, { url: A }],
          },
          { name: 'zeta', createdAt: T0, updatedAt: T0, endpoints: [{ url: A }] },
        ]);
      });

      it('treats group names as case-sensitive', async () => {
        await store.upsertEndpoints('Orders', [{ url: A }], T0);

        expect(await store.getGroup('orders')).toBeUndefined();
        expect((await store.getGroup('Orders'))?.name).toBe('Orders');
      });

      it('deletes a group with its endpoints, and only that group', async () => {
        await store.upsertEndpoints('orders', [{ url: A, name: 'a' }], T0);
        await store.upsertEndpoints('billing', [{ url: A, name: 'a' }], T0);

        expect(await store.deleteGroup('orders')).toBe(true);

        expect(await store.getGroup('orders')).toBeUndefined();
        expect((await store.listGroups()).map((group) => group.name)).toEqual(['billing']);
        // The endpoints went too: the name is free again when the group is recreated.
        await store.upsertEndpoints('orders', [{ url: B, name: 'a' }], T0 + 1);
        expect((await store.getGroup('orders'))?.endpoints).toEqual([{ url: B, name: 'a' }]);
      });

      it('resolves false when deleting a group that does not exist', async () => {
        expect(await store.deleteGroup('missing')).toBe(false);
      });
    });
  });
}
