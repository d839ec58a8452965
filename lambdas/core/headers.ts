/** Headers as QStash's API shows them: Go-canonical names, each with its list of values. */
export type HeaderMap = Record<string, string[]>;

/** Request headers as the API layer hands them to the core: lowercase names, joined values. */
export type IncomingHeaders = Readonly<Record<string, string | undefined>>;

// Every publish and every response names the same few headers: each name is canonicalized once.
// Bounded, since the names come from publishers and destinations.
const canonicalNames = new Map<string, string>();
const MAX_CACHED_NAMES = 1_024;

/** `content-type` -> `Content-Type`, `x-api-KEY` -> `X-Api-Key`, as Go's http.CanonicalHeaderKey. */
export function canonicalHeaderName(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    canonical = name
      .toLowerCase()
      .replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
    if (canonicalNames.size < MAX_CACHED_NAMES) canonicalNames.set(name, canonical);
  }
  return canonical;
}

// RFC 9110 token characters; anything else in a name would be refused by the HTTP client later,
// so it is refused at publish time instead, where the publisher can see the error.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values may hold visible characters, spaces and tabs, never CR, LF or NUL. Past U+00FF a
// character has no single-byte form on the wire, and the HTTP client refuses it: accepted here,
// it would fail every delivery attempt (a /v2/batch header is JSON, so it can hold any).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isValidHeaderName(name: string): boolean {
  return HEADER_NAME.test(name);
}

export function isValidHeaderValue(value: string): boolean {
  return HEADER_VALUE.test(value);
}

/**
 * Adds a value under its canonical name, keeping earlier values. Own properties only: a header
 * named `__proto__` (a valid token) must neither read nor replace the map's prototype.
 */
export function appendHeader(map: HeaderMap, name: string, value: string): void {
  const key = canonicalHeaderName(name);
  if (Object.hasOwn(map, key)) map[key]!.push(value);
  else
    Object.defineProperty(map, key, {
      value: [value],
      enumerable: true,
      writable: true,
      configurable: true,
    });
}
