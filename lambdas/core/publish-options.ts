import type { CoreConfig } from './config';
import { isQStashQueryParameter, validateHttpUrl } from './destination';
import { parseDurationMs } from './durations';
import { BadRequestError } from './errors';
import type { FlowControl } from './flow-control';
import { parseFlowControl } from './flow-control';
import type { HeaderMap, IncomingHeaders } from './headers';
import {
  appendHeader,
  canonicalHeaderName as canonical,
  isValidHeaderName,
  isValidHeaderValue,
} from './headers';
import type { CallbackSpec, HttpMethod } from './message';
import { HTTP_METHODS } from './message';
import type { Redaction } from './redaction';
import { parseRedaction } from './redaction';
import { parseRetryDelayExpression, RetryDelayExpressionError } from './retry-delay-expression';

const FORWARD_PREFIX = 'upstash-forward-';
const CALLBACK_PREFIX = 'upstash-callback-';
const FAILURE_CALLBACK_PREFIX = 'upstash-failure-callback-';
const MAX_DEDUP_ID_LENGTH = 256;
const MAX_LABEL_LENGTH = 128;
const LABEL = /^[A-Za-z0-9._-]+$/;
const UNIX_SECONDS = /^\d+$/;
const INTEGER = /^\d+$/;
const SECOND_MS = 1000;
const DAY_MS = 86_400_000;

/** Headers never copied by `Upstash-Header-Forward: true`: credentials and hop-by-hop fields. */
const NEVER_FORWARDED = new Set([
  'authorization',
  'host',
  'content-length',
  'content-type',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'proxy-connection',
]);

/** Whether `Upstash-Header-Forward: true` would forward this (lowercase, unprefixed) header. */
export function isForwardedByHeaderForward(name: string): boolean {
  return !name.startsWith('upstash-') && !NEVER_FORWARDED.has(name);
}

export type DedupRequest = { kind: 'id'; id: string } | { kind: 'content' };

/** Everything the `Upstash-*` headers of a publish say about the message to create. */
export type PublishOptions = {
  method: HttpMethod;
  header: HeaderMap;
  /** Milliseconds from now, or an absolute time when `Upstash-Not-Before` was given. */
  due: { kind: 'delay'; delayMs: number } | { kind: 'at'; timeMs: number };
  maxRetries: number;
  retryDelayExpression?: string;
  timeoutMs: number;
  callback?: CallbackSpec;
  failureCallback?: CallbackSpec;
  dedup?: DedupRequest;
  labels: string[];
  cron?: string;
  flowControl?: FlowControl;
  redaction?: Redaction;
};

/**
 * Merges QStash configuration given as lowercase query parameters (for webhook senders that
 * cannot set headers, qstash-api.md §2.4) under the request headers. A header wins over a
 * query parameter of the same name.
 */
export function mergeQueryConfig(headers: IncomingHeaders, rawQuery: string): IncomingHeaders {
  if (rawQuery === '') return headers;
  const merged: Record<string, string | undefined> = {};
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    const lower = name.toLowerCase();
    if (isQStashQueryParameter(lower) && lower !== 'qstash_token') merged[lower] = value;
  }
  return { ...merged, ...headers };
}

/** Reads every `Upstash-*` header of a publish, refusing any value that is not allowed. */
export function parsePublishOptions(headers: IncomingHeaders, config: CoreConfig): PublishOptions {
  const maxRetries =
    parseRetries(headers['upstash-retries'], 'Upstash-Retries', config) ?? config.defaultRetries;
  return {
    method: parseMethod(headers['upstash-method'], 'Upstash-Method') ?? 'POST',
    header: forwardedHeaders(headers),
    due: parseDue(headers, config),
    maxRetries,
    retryDelayExpression: parseRetryDelay(headers['upstash-retry-delay'], 'Upstash-Retry-Delay'),
    timeoutMs:
      parseTimeout(headers['upstash-timeout'], 'Upstash-Timeout', config) ?? config.maxTimeoutMs,
    callback: parseCallback(headers, 'upstash-callback', CALLBACK_PREFIX, config),
    failureCallback: parseCallback(
      headers,
      'upstash-failure-callback',
      FAILURE_CALLBACK_PREFIX,
      config,
    ),
    dedup: parseDedup(headers),
    labels: parseLabels(headers['upstash-label']),
    cron: headers['upstash-cron']?.trim() || undefined,
    flowControl: parseFlowControl(
      headers['upstash-flow-control-key'],
      headers['upstash-flow-control-value'],
      'Upstash',
    ),
    redaction: parseRedaction(headers['upstash-redact-fields']),
  };
}

function parseMethod(value: string | undefined, headerName: string): HttpMethod | undefined {
  if (value === undefined) return undefined;
  const upper = value.trim().toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(upper)) {
    throw new BadRequestError(
      `invalid ${headerName} "${value}": allowed methods are ${HTTP_METHODS.join(', ')}`,
    );
  }
  return upper as HttpMethod;
}

function parseRetries(
  value: string | undefined,
  headerName: string,
  config: CoreConfig,
): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!INTEGER.test(trimmed)) {
    throw new BadRequestError(
      `invalid ${headerName} "${value}": expected a whole number from 0 to ${config.maxRetries}`,
    );
  }
  const retries = Number(trimmed);
  if (retries > config.maxRetries) {
    throw new BadRequestError(
      `invalid ${headerName} "${value}": at most ${config.maxRetries} retries are allowed on this server`,
    );
  }
  return retries;
}

function parseRetryDelay(value: string | undefined, headerName: string): string | undefined {
  if (value === undefined) return undefined;
  try {
    return parseRetryDelayExpression(value).source;
  } catch (error) {
    if (error instanceof RetryDelayExpressionError) {
      throw new BadRequestError(
        `invalid ${headerName} "${value}": ${error.message}; expected an expression in milliseconds such as "1000 * (1 + retried)"`,
        { cause: error },
      );
    }
    throw error;
  }
}

function parseTimeout(
  value: string | undefined,
  headerName: string,
  config: CoreConfig,
): number | undefined {
  if (value === undefined) return undefined;
  const timeoutMs = parseDurationMs(value, headerName);
  if (timeoutMs <= 0 || timeoutMs > config.maxTimeoutMs) {
    throw new BadRequestError(
      `invalid ${headerName} "${value}": must be more than 0s and at most ${config.maxTimeoutMs / SECOND_MS}s`,
    );
  }
  return timeoutMs;
}

function parseDue(headers: IncomingHeaders, config: CoreConfig): PublishOptions['due'] {
  // Both headers are validated even though Upstash-Not-Before wins when both are given (seeds):
  // a malformed value is refused, never silently ignored.
  const delay = headers['upstash-delay'];
  const delayMs = delay === undefined ? 0 : parseDurationMs(delay, 'Upstash-Delay');
  if (delayMs > config.maxDelayMs) {
    throw new BadRequestError(
      `invalid Upstash-Delay "${delay}": at most ${config.maxDelayMs / SECOND_MS}s (${Math.round(config.maxDelayMs / DAY_MS)}d) is allowed`,
    );
  }
  const notBefore = headers['upstash-not-before'];
  if (notBefore === undefined) return { kind: 'delay', delayMs };
  const trimmed = notBefore.trim();
  if (!UNIX_SECONDS.test(trimmed)) {
    throw new BadRequestError(
      `invalid Upstash-Not-Before "${notBefore}": expected a Unix timestamp in seconds`,
    );
  }
  return { kind: 'at', timeMs: Number(trimmed) * SECOND_MS };
}

function parseDedup(headers: IncomingHeaders): DedupRequest | undefined {
  const id = headers['upstash-deduplication-id'];
  if (id !== undefined) {
    if (id === '' || /[:\s]/.test(id) || id.length > MAX_DEDUP_ID_LENGTH) {
      throw new BadRequestError(
        `invalid Upstash-Deduplication-Id "${id}": must be 1 to ${MAX_DEDUP_ID_LENGTH} characters with no ":" and no whitespace`,
      );
    }
    return { kind: 'id', id };
  }
  const contentBased = headers['upstash-content-based-deduplication'];
  if (contentBased === undefined) return undefined;
  // The Python SDK sends `True`/`False`.
  const lower = contentBased.trim().toLowerCase();
  if (lower !== 'true' && lower !== 'false') {
    throw new BadRequestError(
      `invalid Upstash-Content-Based-Deduplication "${contentBased}": expected true or false`,
    );
  }
  return lower === 'true' ? { kind: 'content' } : undefined;
}

function parseLabels(value: string | undefined): string[] {
  if (value === undefined) return [];
  const labels = value.split(',').map((label) => label.trim());
  for (const label of labels) {
    if (!LABEL.test(label) || label.length > MAX_LABEL_LENGTH) {
      throw new BadRequestError(
        `invalid Upstash-Label "${value}": each comma-separated label must be 1 to ${MAX_LABEL_LENGTH} letters, digits, "-", "_" or "."`,
      );
    }
  }
  return [...new Set(labels)];
}

/** `Content-Type` plus `Upstash-Forward-<Name>` as `<Name>`, plus everything under `Upstash-Header-Forward: true`. */
function forwardedHeaders(headers: IncomingHeaders): HeaderMap {
  const header: HeaderMap = {};
  const contentType = headers['content-type'];
  if (contentType !== undefined) appendHeader(header, 'content-type', contentType);
  const forwardAll = headers['upstash-header-forward']?.trim().toLowerCase() === 'true';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.startsWith(FORWARD_PREFIX)) {
      addForwarded(header, name.slice(FORWARD_PREFIX.length), value, name);
    } else if (forwardAll && isForwardedByHeaderForward(name)) {
      addForwarded(header, name, value, name);
    }
  }
  return header;
}

function addForwarded(header: HeaderMap, name: string, value: string, sourceName: string): void {
  if (name === '' || !isValidHeaderName(name)) {
    throw new BadRequestError(
      `invalid header name "${canonical(sourceName)}": a forwarded header needs a valid HTTP header name`,
    );
  }
  if (!isValidHeaderValue(value)) {
    throw new BadRequestError(
      `invalid value for ${canonical(sourceName)}: header values may not contain control characters or characters past U+00FF`,
    );
  }
  appendHeader(header, name, value);
}

/**
 * A callback is configured by the same headers as a message, with `Upstash-` replaced by
 * `Upstash-Callback-` (or `Upstash-Failure-Callback-`). The sub-headers are read with the
 * same parsers as the message's own, so the rules cannot drift apart.
 */
function parseCallback(
  headers: IncomingHeaders,
  urlHeader: string,
  prefix: string,
  config: CoreConfig,
): CallbackSpec | undefined {
  const url = headers[urlHeader];
  const sub: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && name.startsWith(prefix))
      sub[`upstash-${name.slice(prefix.length)}`] = value;
  }
  const headerLabel = canonical(urlHeader);
  if (url === undefined) {
    const stray = Object.keys(sub)[0];
    if (stray !== undefined) {
      throw new BadRequestError(
        `${canonical(prefix + stray.slice('upstash-'.length))} needs ${headerLabel} to be set`,
      );
    }
    return undefined;
  }
  if (sub['upstash-delay'] !== undefined) {
    throw new BadRequestError(
      `${headerLabel}-Delay is not accepted: callbacks are sent as soon as the attempt ends`,
    );
  }
  const header: HeaderMap = {};
  for (const [name, value] of Object.entries(sub)) {
    if (name.startsWith(FORWARD_PREFIX))
      addForwarded(header, name.slice(FORWARD_PREFIX.length), value, prefix + name.slice(8));
  }
  return {
    url: validateHttpUrl(url.trim(), headerLabel),
    method: parseMethod(sub['upstash-method'], `${headerLabel}-Method`) ?? 'POST',
    header,
    retries: parseRetries(sub['upstash-retries'], `${headerLabel}-Retries`, config),
    retryDelayExpression: parseRetryDelay(sub['upstash-retry-delay'], `${headerLabel}-Retry-Delay`),
    timeoutMs: parseTimeout(sub['upstash-timeout'], `${headerLabel}-Timeout`, config),
    flowControl: parseFlowControl(
      sub['upstash-flow-control-key'],
      sub['upstash-flow-control-value'],
      headerLabel,
    ),
  };
}
