import { BadRequestError } from './errors';

/** Where a publish goes: a URL, or the name of a URL group to fan out to. */
export type Destination = { kind: 'url'; url: string } | { kind: 'group'; name: string };

const URL_PREFIX = /^https?:\/\//i;
// Proxies that merge slashes (nginx `merge_slashes`) turn `https://` into `https:/`.
const COLLAPSED_PREFIX = /^(https?):\/(?!\/)/i;
const ENCODED_PREFIX = /^https?%3A/i;
const GROUP_NAME = /^[A-Za-z0-9._-]+$/;

/** URL group names are restricted to alphanumerics, `-`, `_` and `.` (qstash-api.md §2.1). */
export function isUrlGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}

/** The query parameters that configure QStash itself rather than belonging to the destination. */
export function isQStashQueryParameter(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'qstash_token' || lower.startsWith('upstash-');
}

/**
 * Rebuilds the destination from the raw path remainder and raw query string. The SDKs put the
 * URL raw into the path (`/v2/publish/https://example.com/api?x=1`), so the destination's own
 * query string arrives as the request's; every parameter that is not QStash's own goes back to
 * the destination, in order and exactly as encoded.
 */
export function parseDestination(
  rawPath: string,
  rawQuery: string,
  what = 'destination',
): Destination {
  let path = rawPath;
  if (ENCODED_PREFIX.test(path)) {
    try {
      path = decodeURIComponent(path);
    } catch {
      throw new BadRequestError(`invalid ${what} "${rawPath}": malformed percent-encoding`);
    }
  }
  path = path.replace(COLLAPSED_PREFIX, '$1://');
  if (!URL_PREFIX.test(path)) {
    if (GROUP_NAME.test(path)) return { kind: 'group', name: path };
    throw new BadRequestError(
      `invalid ${what} "${rawPath}": expected a URL starting with http:// or https://, or a URL group name of letters, digits, "-", "_" and "."`,
    );
  }
  const kept = rawQuery
    .split('&')
    .filter((part) => part !== '' && !isQStashQueryParameter(safeDecode(part.split('=')[0] ?? '')));
  // A percent-encoded destination may carry its own query; the request's then extends it.
  const separator = path.includes('?') ? '&' : '?';
  const url = kept.length > 0 ? `${path}${separator}${kept.join('&')}` : path;
  return { kind: 'url', url: validateHttpUrl(url, what) };
}

/** Checks that a destination or callback is an absolute http(s) URL with a host. */
export function validateHttpUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadRequestError(`invalid ${what} "${url}": not a valid URL`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new BadRequestError(
      `invalid ${what} "${url}": must be an http:// or https:// URL with a host`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new BadRequestError(
      `invalid ${what} "${url}": credentials in the URL are not allowed; forward an Authorization header instead`,
    );
  }
  return url;
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    return component;
  }
}
