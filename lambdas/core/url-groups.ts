import type { Clock } from '../ports/clock';
import type {
  Endpoint,
  EndpointMatcher,
  EndpointNameConflict,
  UrlGroup,
  UrlGroupStore,
} from '../ports/url-group-store';
import { isUrlGroupName, validateHttpUrl } from './destination';
import { BadRequestError, NotFoundError } from './errors';
import { isPlainObject } from './json-values';

const MAX_ENDPOINT_NAME_LENGTH = 128;
// Printable text: an endpoint name shows up in logs and callback bodies, never in a header.
const ENDPOINT_NAME = /^[^\p{Cc}]+$/u;
/** What `POST /v2/topics/{name}/endpoints` expects, for error messages. */
export const ADD_ENDPOINTS_BODY =
  'JSON such as {"endpoints": [{"url": "https://example.com/hook", "name": "optional"}]}';
/** What `DELETE /v2/topics/{name}/endpoints` expects, for error messages. */
export const REMOVE_ENDPOINTS_BODY =
  'JSON such as {"endpoints": [{"name": "endpoint-name"}, {"url": "https://example.com/hook"}]}';

export type UrlGroupDeps = { readonly urlGroups: UrlGroupStore; readonly clock: Clock };

/** A URL group as `/v2/topics` shows it (qstash-api.md §6.5). */
export type UrlGroupJson = {
  name: string;
  createdAt: number;
  updatedAt: number;
  endpoints: { url: string; name?: string }[];
};

/** Refuses a group name that is not alphanumerics, `-`, `_` and `.`; returns it otherwise. */
export function validateUrlGroupName(name: string): string {
  if (!isUrlGroupName(name)) {
    throw new BadRequestError(
      `invalid URL group name "${name}": use only letters, digits, "-", "_" and "."`,
    );
  }
  return name;
}

/**
 * `POST /v2/topics/{name}/endpoints`: adds or updates endpoints, creating the group if missing.
 * `body` is the parsed JSON body (undefined when there was none).
 */
export async function addEndpoints(deps: UrlGroupDeps, name: string, body: unknown): Promise<void> {
  validateUrlGroupName(name);
  const endpoints = parseAddEndpoints(body);
  const result = await deps.urlGroups.upsertEndpoints(name, endpoints, deps.clock.now());
  if (!result.upserted) throw conflictError(name, result.conflict);
}

/**
 * `DELETE /v2/topics/{name}/endpoints`: removes the endpoints named or listed by url. Removing
 * one that is not in the group is not an error; removing the last one deletes the group.
 */
export async function removeEndpoints(
  deps: UrlGroupDeps,
  name: string,
  body: unknown,
): Promise<void> {
  validateUrlGroupName(name);
  const matchers = parseRemoveEndpoints(body);
  const result = await deps.urlGroups.removeEndpoints(name, matchers, deps.clock.now());
  if (result === undefined) throw groupNotFound(name);
}

export async function getUrlGroup(deps: UrlGroupDeps, name: string): Promise<UrlGroupJson> {
  validateUrlGroupName(name);
  const group = await deps.urlGroups.getGroup(name);
  if (!group) throw groupNotFound(name);
  return urlGroupJson(group);
}

export async function listUrlGroups(deps: UrlGroupDeps): Promise<UrlGroupJson[]> {
  return (await deps.urlGroups.listGroups()).map(urlGroupJson);
}

/** Deletes the group; messages already published to its endpoints are delivered all the same. */
export async function deleteUrlGroup(deps: UrlGroupDeps, name: string): Promise<void> {
  validateUrlGroupName(name);
  if (!(await deps.urlGroups.deleteGroup(name))) throw groupNotFound(name);
}

export function groupNotFound(name: string): NotFoundError {
  return new NotFoundError(`URL group "${name}" not found`);
}

function urlGroupJson(group: UrlGroup): UrlGroupJson {
  return {
    name: group.name,
    createdAt: group.createdAt,
    updatedAt: group.updatedAt,
    endpoints: group.endpoints.map((endpoint) =>
      endpoint.name === undefined
        ? { url: endpoint.url }
        : { url: endpoint.url, name: endpoint.name },
    ),
  };
}

function conflictError(group: string, conflict: EndpointNameConflict): BadRequestError {
  return new BadRequestError(
    `endpoint name "${conflict.name}" is already used by ${conflict.heldByUrl} in URL group "${group}"; ` +
      `remove that endpoint or rename it before giving the name to ${conflict.wantedByUrl}`,
  );
}

/** The body of an add: each endpoint has a url and may have a name; neither repeats. */
export function parseAddEndpoints(body: unknown): Endpoint[] {
  const items = endpointItems(body, ADD_ENDPOINTS_BODY);
  const endpoints = items.map((item, index): Endpoint => {
    const field = `endpoints[${index}]`;
    if (item.url === undefined || item.url === null) {
      throw new BadRequestError(`${field}.url is missing: every endpoint needs an http(s) URL`);
    }
    const url = validateHttpUrl(stringField(item.url, `${field}.url`), `${field}.url`);
    const name = endpointName(item.name, `${field}.name`);
    return name === undefined ? { url } : { url, name };
  });
  refuseRepeats(endpoints, 'url');
  refuseRepeats(endpoints, 'name');
  return endpoints;
}

/** The body of a remove: each item picks endpoints by name, url, or both. */
export function parseRemoveEndpoints(body: unknown): EndpointMatcher[] {
  const items = endpointItems(body, REMOVE_ENDPOINTS_BODY);
  return items.map((item, index): EndpointMatcher => {
    const field = `endpoints[${index}]`;
    const url =
      item.url === undefined || item.url === null
        ? undefined
        : stringField(item.url, `${field}.url`);
    const name = endpointName(item.name, `${field}.name`);
    if (url === undefined && name === undefined) {
      throw new BadRequestError(`${field} needs "name" or "url" to say which endpoint to remove`);
    }
    return { ...(url !== undefined && { url }), ...(name !== undefined && { name }) };
  });
}

function endpointItems(body: unknown, expected: string): Record<string, unknown>[] {
  if (!isPlainObject(body) || !Array.isArray(body.endpoints)) {
    throw new BadRequestError(
      `invalid request body: "endpoints" must be an array; expected ${expected}`,
    );
  }
  if (body.endpoints.length === 0) {
    throw new BadRequestError(`invalid request body: "endpoints" is empty; expected ${expected}`);
  }
  return body.endpoints.map((item: unknown, index) => {
    if (!isPlainObject(item)) {
      throw new BadRequestError(`endpoints[${index}] must be an object; expected ${expected}`);
    }
    return item;
  });
}

function stringField(value: unknown, field: string): string {
  if (typeof value !== 'string') {
    throw new BadRequestError(`${field} must be a string, not ${JSON.stringify(value)}`);
  }
  const trimmed = value.trim();
  if (trimmed === '') throw new BadRequestError(`${field} is empty`);
  return trimmed;
}

/** Absent, `null` and `""` all mean "no name", as SDKs send any of them for an unnamed endpoint. */
function endpointName(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const name = stringField(value, field);
  if (name.length > MAX_ENDPOINT_NAME_LENGTH || !ENDPOINT_NAME.test(name)) {
    throw new BadRequestError(
      `invalid ${field} "${name}": at most ${MAX_ENDPOINT_NAME_LENGTH} characters, no control characters`,
    );
  }
  return name;
}

function refuseRepeats(endpoints: readonly Endpoint[], key: 'url' | 'name'): void {
  const seen = new Map<string, number>();
  endpoints.forEach((endpoint, index) => {
    const value = endpoint[key];
    if (value === undefined) return;
    const first = seen.get(value);
    if (first !== undefined) {
      throw new BadRequestError(
        `endpoints[${index}].${key} "${value}" repeats endpoints[${first}].${key}; list each endpoint once`,
      );
    }
    seen.set(value, index);
  });
}

/**
 * The endpoints of a group after an upsert: an endpoint with a url already there replaces it
 * in place, the others are appended in order. A conflict when an added endpoint's name is held
 * by an endpoint with another url. Stores call this inside their atomic update, so the rule is
 * written once for every runtime. `added` holds each url and each name at most once.
 */
export function mergeEndpoints(
  existing: readonly Endpoint[],
  added: readonly Endpoint[],
): { endpoints: Endpoint[] } | { conflict: EndpointNameConflict } {
  const merged = [...existing];
  for (const endpoint of added) {
    const index = merged.findIndex((current) => current.url === endpoint.url);
    if (index === -1) merged.push(endpoint);
    else merged[index] = endpoint;
  }
  for (const endpoint of added) {
    if (endpoint.name === undefined) continue;
    const holder = merged.find(
      (other) => other.name === endpoint.name && other.url !== endpoint.url,
    );
    if (holder)
      return {
        conflict: { name: endpoint.name, heldByUrl: holder.url, wantedByUrl: endpoint.url },
      };
  }
  return { endpoints: merged };
}

/** The endpoints no matcher matches; a matcher matches when every field it gives matches. */
export function withoutMatching(
  endpoints: readonly Endpoint[],
  matchers: readonly EndpointMatcher[],
): Endpoint[] {
  return endpoints.filter(
    (endpoint) =>
      !matchers.some(
        (matcher) =>
          (matcher.url === undefined || matcher.url === endpoint.url) &&
          (matcher.name === undefined || matcher.name === endpoint.name),
      ),
  );
}
