import { createHash } from 'node:crypto';
import { BadRequestError } from './errors';
import type { HeaderMap } from './headers';
import { canonicalHeaderName, isValidHeaderName } from './headers';

/**
 * Field redaction (`Upstash-Redact-Fields`, qstash-api.md §2.7). A redacted field is stored and
 * delivered as given (the destination gets the real value; a DLQ retry delivers the original),
 * and every API view shows it as `REDACTED:<hash>` instead: messages, logs, dead letters and
 * schedules. The hash is the lowercase hex SHA-256 of the value's bytes (the body as received;
 * a header value as UTF-8, each value of a repeated header on its own), the form `sha256sum`
 * prints, so the owner of a value can check it without the API ever showing it.
 */
export type Redaction = {
  readonly body?: true;
  /** Every header of the message (and of its callbacks). */
  readonly allHeaders?: true;
  /** These headers, canonical names. */
  readonly headers?: readonly string[];
};

const ALL_HEADERS = new Set(['header', 'headers']);
const ONE_HEADER = /^headers?\[([^\]]*)\]$/i;

/**
 * Reads `body`, `header`/`headers` and `header[Name]`/`headers[Name]`, comma-separated, in any
 * case, with or without spaces (the OpenAPI, the docs and the SDKs each spell them differently).
 */
export function parseRedaction(value: string | undefined): Redaction | undefined {
  if (value === undefined) return undefined;
  let body = false;
  let allHeaders = false;
  const headers = new Set<string>();
  for (const raw of value.split(',')) {
    const part = raw.trim();
    const lower = part.toLowerCase();
    const named = ONE_HEADER.exec(part);
    if (lower === 'body') body = true;
    else if (ALL_HEADERS.has(lower)) allHeaders = true;
    else if (named && isValidHeaderName(named[1]!.trim()))
      headers.add(canonicalHeaderName(named[1]!.trim()));
    else {
      throw new BadRequestError(
        `invalid Upstash-Redact-Fields "${value}": expected comma-separated body, header, or header[<Name>], such as "body, header[Authorization]"`,
      );
    }
  }
  return {
    ...(body && { body: true }),
    ...(allHeaders && { allHeaders: true }),
    ...(!allHeaders && headers.size > 0 && { headers: [...headers] }),
  };
}

/** `REDACTED:<hex SHA-256>` of a value. */
export function redactedValue(value: string | Uint8Array): string {
  return `REDACTED:${createHash('sha256').update(value).digest('hex')}`;
}

/** The header map as the API shows it: each redacted header's values hashed. */
export function redactHeaders(header: HeaderMap, redaction: Redaction | undefined): HeaderMap {
  if (!redaction || (!redaction.allHeaders && !redaction.headers?.length)) return header;
  const named = new Set(redaction.headers);
  const shown: HeaderMap = {};
  for (const [name, values] of Object.entries(header)) {
    shown[name] =
      redaction.allHeaders || named.has(canonicalHeaderName(name))
        ? values.map((value) => redactedValue(value))
        : values;
  }
  return shown;
}

/** The body as the API shows it: its bytes, or the UTF-8 of `REDACTED:<hash>`. */
export function redactBody(body: Uint8Array, redaction: Redaction | undefined): Uint8Array {
  if (!redaction?.body || body.byteLength === 0) return body;
  return new TextEncoder().encode(redactedValue(body));
}

/** Whether the redaction hides anything. */
export function redactsAnything(redaction: Redaction | undefined): boolean {
  return (
    redaction !== undefined &&
    (redaction.body === true ||
      redaction.allHeaders === true ||
      (redaction.headers?.length ?? 0) > 0)
  );
}
