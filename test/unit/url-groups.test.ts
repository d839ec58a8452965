import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteUrlGroupStore } from '../../lambdas/adapters/embedded/sqlite-url-group-store';
import { BadRequestError, NotFoundError } from '../../lambdas/core/errors';
import type { UrlGroupDeps } from '../../lambdas/core/url-groups';
import {
  addEndpoints,
  deleteUrlGroup,
  getUrlGroup,
  listUrlGroups,
  mergeEndpoints,
  parseAddEndpoints,
  parseRemoveEndpoints,
  removeEndpoints,
  validateUrlGroupName,
  withoutMatching,
} from '../../lambdas/core/url-groups';
import { expectBadRequest } from '../helpers/bad-request';
import { fixedClock, T0 } from '../helpers/messages';

const A = 'https://a.example.com/hook';
const B = 'https://b.example.com/hook';

describe('validateUrlGroupName', () => {
  it('accepts letters, digits, "-", "_" and "."', () => {
    expect(validateUrlGroupName('Orders-v2_eu.west')).toBe('Orders-v2_eu.west');
  });

  it.each(['my group', 'a/b', 'café', 'a:b', ''])('refuses %j naming the name', (name) => {
    expectBadRequest(() => validateUrlGroupName(name), `invalid URL group name "${name}"`);
  });
});

describe('parseAddEndpoints', () => {
  it('reads urls and optional names, treating null and "" as no name', () => {
    const endpoints = parseAddEndpoints({
      endpoints: [
        { url: A, name: 'a' },
        { url: ` ${B} `, name: null },
        { url: 'http://c.example.com', name: '' },
      ],
    });

    expect(endpoints).toEqual([{ url: A, name: 'a' }, { url: B }, { url: 'http://c.example.com' }]);
  });

  it.each([
    ['no body', undefined, '"endpoints" must be an array'],
    ['a bare array', [{ url: A }], '"endpoints" must be an array'],
    ['endpoints that is not an array', { endpoints: { url: A } }, '"endpoints" must be an array'],
    ['no endpoints', { endpoints: [] }, '"endpoints" is empty'],
    ['an item that is not an object', { endpoints: [A] }, 'endpoints[0] must be an object'],
  ])('refuses %s, saying what was expected', (_case, body, fragment) => {
    expectBadRequest(() => parseAddEndpoints(body), fragment, '{"endpoints": [{"url"');
  });

  it.each([
    [{ name: 'x' }, 'endpoints[0].url is missing'],
    [{ url: 42 }, 'endpoints[0].url must be a string'],
    [{ url: 'ftp://example.com' }, 'invalid endpoints[0].url "ftp://example.com"'],
    [{ url: 'example.com/hook' }, 'invalid endpoints[0].url "example.com/hook"'],
    [{ url: 'https://user:pw@example.com' }, 'credentials in the URL are not allowed'],
    [{ url: A, name: 7 }, 'endpoints[0].name must be a string'],
    [{ url: A, name: 'a\nb' }, 'invalid endpoints[0].name'],
    [{ url: A, name: 'x'.repeat(129) }, 'at most 128 characters'],
  ])('refuses the endpoint %j naming the field', (endpoint, fragment) => {
    expectBadRequest(() => parseAddEndpoints({ endpoints: [endpoint] }), fragment);
  });

  it('refuses a url or a name listed twice, naming both places', () => {
    expectBadRequest(
      () => parseAddEndpoints({ endpoints: [{ url: A }, { url: B }, { url: A }] }),
      `endpoints[2].url "${A}" repeats endpoints[0].url`,
    );
    expectBadRequest(
      () =>
        parseAddEndpoints({
          endpoints: [
            { url: A, name: 'x' },
            { url: B, name: 'x' },
          ],
        }),
      'endpoints[1].name "x" repeats endpoints[0].name',
    );
  });
});

describe('parseRemoveEndpoints', () => {
  it('reads matchers by url, by name, or by both', () => {
    const matchers = parseRemoveEndpoints({
      endpoints: [{ url: A }, { name: 'b' }, { url: B, name: 'b' }],
    });

    expect(matchers).toEqual([{ url: A }, { name: 'b' }, { url: B, name: 'b' }]);
  });

  it('refuses an item with neither a name nor a url', () => {
    expectBadRequest(
      () => parseRemoveEndpoints({ endpoints: [{ url: A }, { name: null }] }),
      'endpoints[1] needs "name" or "url"',
    );
  });

  it('refuses a body without endpoints, saying what was expected', () => {
    expectBadRequest(
      () => parseRemoveEndpoints({ endpoint: { name: 'a' } }),
      '"endpoints" must be an array',
      '{"endpoints": [{"name"',
    );
  });
});

describe('mergeEndpoints', () => {
  it('replaces a known url in place and appends new ones', () => {
    expect(
      mergeEndpoints(
        [{ url: A, name: 'a' }, { url: B }],
        [{ url: 'https://c.example.com' }, { url: A }],
      ),
    ).toEqual({ endpoints: [{ url: A }, { url: B }, { url: 'https://c.example.com' }] });
  });

  it('reports a name held by another url', () => {
    expect(mergeEndpoints([{ url: A, name: 'x' }], [{ url: B, name: 'x' }])).toEqual({
      conflict: { name: 'x', heldByUrl: A, wantedByUrl: B },
    });
  });

  it('allows re-adding an endpoint with its own name', () => {
    expect(mergeEndpoints([{ url: A, name: 'x' }], [{ url: A, name: 'x' }])).toEqual({
      endpoints: [{ url: A, name: 'x' }],
    });
  });
});

describe('withoutMatching', () => {
  it('keeps endpoints no matcher fully matches', () => {
    const endpoints = [
      { url: A, name: 'a' },
      { url: B, name: 'b' },
      { url: 'https://c.example.com' },
    ];

    expect(withoutMatching(endpoints, [{ url: A, name: 'b' }, { name: 'b' }])).toEqual([
      { url: A, name: 'a' },
      { url: 'https://c.example.com' },
    ]);
  });
});

describe('URL group operations', () => {
  let dataDir: string;
  let db: Database.Database;
  let clock: ReturnType<typeof fixedClock>;
  let deps: UrlGroupDeps;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-url-group-ops-'));
    db = openDatabase(dataDir, 'NORMAL');
    clock = fixedClock(T0);
    deps = { urlGroups: new SqliteUrlGroupStore(db), clock };
  });

  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds endpoints, creating the group at the current time, and shows it as QStash does', async () => {
    await addEndpoints(deps, 'orders', { endpoints: [{ url: A, name: 'a' }, { url: B }] });
    clock.advance(1_000);
    await addEndpoints(deps, 'orders', { endpoints: [{ url: B, name: 'b' }] });

    const expected = {
      name: 'orders',
      createdAt: T0,
      updatedAt: T0 + 1_000,
      endpoints: [
        { url: A, name: 'a' },
        { url: B, name: 'b' },
      ],
    };
    expect(await getUrlGroup(deps, 'orders')).toEqual(expected);
    expect(await listUrlGroups(deps)).toEqual([expected]);
  });

  it('refuses a name another endpoint holds with a 400 naming both urls and the group', async () => {
    await addEndpoints(deps, 'orders', { endpoints: [{ url: A, name: 'primary' }] });

    const adding = addEndpoints(deps, 'orders', { endpoints: [{ url: B, name: 'primary' }] });

    await expect(adding).rejects.toThrow(BadRequestError);
    await expect(adding).rejects.toThrow(
      `endpoint name "primary" is already used by ${A} in URL group "orders"`,
    );
    expect((await getUrlGroup(deps, 'orders')).endpoints).toEqual([{ url: A, name: 'primary' }]);
  });

  it('refuses an invalid group name before reading the body', async () => {
    await expect(addEndpoints(deps, 'bad%20name', 'nonsense')).rejects.toThrow(
      'invalid URL group name "bad%20name"',
    );
  });

  it('deletes the group when its last endpoint is removed', async () => {
    await addEndpoints(deps, 'orders', { endpoints: [{ url: A, name: 'a' }, { url: B }] });

    await removeEndpoints(deps, 'orders', { endpoints: [{ name: 'a' }] });
    expect((await getUrlGroup(deps, 'orders')).endpoints).toEqual([{ url: B }]);
    await removeEndpoints(deps, 'orders', { endpoints: [{ url: B }] });

    await expect(getUrlGroup(deps, 'orders')).rejects.toThrow(NotFoundError);
    expect(await listUrlGroups(deps)).toEqual([]);
  });

  it('answers 404 naming the group for get, delete and remove on a missing group', async () => {
    const notFound = 'URL group "missing" not found';

    await expect(getUrlGroup(deps, 'missing')).rejects.toThrow(notFound);
    await expect(deleteUrlGroup(deps, 'missing')).rejects.toThrow(notFound);
    await expect(
      removeEndpoints(deps, 'missing', { endpoints: [{ url: A }] }),
    ).rejects.toMatchObject({ status: 404, message: notFound });
  });

  it('deletes a group', async () => {
    await addEndpoints(deps, 'orders', { endpoints: [{ url: A }] });

    await deleteUrlGroup(deps, 'orders');

    expect(await listUrlGroups(deps)).toEqual([]);
  });
});
