import type Database from 'better-sqlite3';
import { mergeEndpoints, withoutMatching } from '../../core/url-groups';
import type {
  Endpoint,
  EndpointMatcher,
  RemoveEndpointsResult,
  UpsertEndpointsResult,
  UrlGroup,
  UrlGroupStore,
} from '../../ports/url-group-store';
import { writeTransaction } from './sqlite-transaction';

type GroupRow = { name: string; createdAt: number; updatedAt: number };
type EndpointRow = { groupName: string; url: string; name: string | null };

/**
 * URL groups in the embedded SQLite file. A change reads the group's endpoints, computes the
 * new list with the core's rules and writes it back in one transaction; better-sqlite3 is
 * synchronous, so no other call interleaves with it.
 */
export class SqliteUrlGroupStore implements UrlGroupStore {
  readonly #statements;
  readonly #upsert: (
    name: string,
    endpoints: readonly Endpoint[],
    nowMs: number,
  ) => UpsertEndpointsResult;
  readonly #remove: (
    name: string,
    matchers: readonly EndpointMatcher[],
    nowMs: number,
  ) => RemoveEndpointsResult | undefined;

  constructor(db: Database.Database) {
    const statements = {
      getGroup: db.prepare(
        'SELECT name, created_at AS createdAt, updated_at AS updatedAt FROM url_groups WHERE name = ?',
      ),
      listGroups: db.prepare(
        'SELECT name, created_at AS createdAt, updated_at AS updatedAt FROM url_groups ORDER BY name',
      ),
      groupEndpoints: db.prepare(
        `SELECT group_name AS groupName, url, name FROM url_group_endpoints
         WHERE group_name = ? ORDER BY position`,
      ),
      allEndpoints: db.prepare(
        `SELECT group_name AS groupName, url, name FROM url_group_endpoints
         ORDER BY group_name, position`,
      ),
      insertGroup: db.prepare(
        'INSERT INTO url_groups (name, created_at, updated_at) VALUES (?, ?, ?)',
      ),
      touchGroup: db.prepare('UPDATE url_groups SET updated_at = ? WHERE name = ?'),
      deleteGroup: db.prepare('DELETE FROM url_groups WHERE name = ?'),
      deleteEndpoints: db.prepare('DELETE FROM url_group_endpoints WHERE group_name = ?'),
      insertEndpoint: db.prepare(
        'INSERT INTO url_group_endpoints (group_name, url, name, position) VALUES (?, ?, ?, ?)',
      ),
    };
    this.#statements = statements;

    const readEndpoints = (name: string): Endpoint[] =>
      (statements.groupEndpoints.all(name) as EndpointRow[]).map(toEndpoint);
    // Rewriting the whole list keeps positions dense and lets one call move a name from one
    // endpoint to another without tripping the unique index halfway through.
    const writeEndpoints = (name: string, endpoints: readonly Endpoint[]) => {
      statements.deleteEndpoints.run(name);
      endpoints.forEach((endpoint, position) => {
        statements.insertEndpoint.run(name, endpoint.url, endpoint.name ?? null, position);
      });
    };

    this.#upsert = writeTransaction(
      db,
      (name: string, endpoints: readonly Endpoint[], nowMs: number): UpsertEndpointsResult => {
        const exists = statements.getGroup.get(name) !== undefined;
        const merged = mergeEndpoints(exists ? readEndpoints(name) : [], endpoints);
        if ('conflict' in merged) return { upserted: false, conflict: merged.conflict };
        if (exists) statements.touchGroup.run(nowMs, name);
        else statements.insertGroup.run(name, nowMs, nowMs);
        writeEndpoints(name, merged.endpoints);
        return { upserted: true };
      },
    );

    this.#remove = writeTransaction(
      db,
      (
        name: string,
        matchers: readonly EndpointMatcher[],
        nowMs: number,
      ): RemoveEndpointsResult | undefined => {
        if (statements.getGroup.get(name) === undefined) return undefined;
        const endpoints = readEndpoints(name);
        const kept = withoutMatching(endpoints, matchers);
        const removed = endpoints.length - kept.length;
        if (removed === 0) return { removed, groupDeleted: false };
        if (kept.length === 0) {
          statements.deleteGroup.run(name);
          return { removed, groupDeleted: true };
        }
        statements.touchGroup.run(nowMs, name);
        writeEndpoints(name, kept);
        return { removed, groupDeleted: false };
      },
    );
  }

  async upsertEndpoints(
    name: string,
    endpoints: readonly Endpoint[],
    nowMs: number,
  ): Promise<UpsertEndpointsResult> {
    return this.#upsert(name, endpoints, nowMs);
  }

  async removeEndpoints(
    name: string,
    matchers: readonly EndpointMatcher[],
    nowMs: number,
  ): Promise<RemoveEndpointsResult | undefined> {
    return this.#remove(name, matchers, nowMs);
  }

  async getGroup(name: string): Promise<UrlGroup | undefined> {
    const row = this.#statements.getGroup.get(name) as GroupRow | undefined;
    if (!row) return undefined;
    const endpoints = (this.#statements.groupEndpoints.all(name) as EndpointRow[]).map(toEndpoint);
    return { ...row, endpoints };
  }

  async listGroups(): Promise<UrlGroup[]> {
    const groups = this.#statements.listGroups.all() as GroupRow[];
    const byGroup = new Map<string, Endpoint[]>();
    for (const row of this.#statements.allEndpoints.all() as EndpointRow[]) {
      const endpoints = byGroup.get(row.groupName);
      if (endpoints) endpoints.push(toEndpoint(row));
      else byGroup.set(row.groupName, [toEndpoint(row)]);
    }
    return groups.map((group) => ({ ...group, endpoints: byGroup.get(group.name) ?? [] }));
  }

  async deleteGroup(name: string): Promise<boolean> {
    // Endpoints go with it: ON DELETE CASCADE, with foreign keys enforced by openDatabase.
    return this.#statements.deleteGroup.run(name).changes > 0;
  }
}

function toEndpoint(row: EndpointRow): Endpoint {
  return row.name === null ? { url: row.url } : { url: row.url, name: row.name };
}
