import { BadRequestError, QStashApiError, WorkflowRunEndedError } from './errors';
import { isPlainObject } from './json-values';
import type { PreparedPublish, PublishDeps, PublishRequest, PublishResult } from './publish';
import { preparePublish, publishResult } from './publish';

/**
 * Most messages one `POST /v2/batch` may hold. Each is published in turn within the request, so
 * the cap bounds how long a request runs; a URL group element still fans out to all its endpoints.
 */
export const MAX_BATCH_MESSAGES = 1000;

/** What `POST /v2/batch` expects, for error messages. */
export const BATCH_BODY =
  'a JSON array of messages such as [{"destination": "https://example.com/hook", "headers": {"upstash-delay": "10s"}, "body": "..."}]';
const encoder = new TextEncoder();

export type BatchRequest = {
  /** The parsed JSON body; undefined when there was none. */
  readonly messages: unknown;
  readonly callerIp?: string;
};

/** A message of the batch that was refused; the others are published all the same. */
export type BatchItemError = { readonly error: string };

/** One answer per message, in request order. */
export type BatchItemResult = PublishResult | BatchItemError;

/**
 * `POST /v2/batch` (qstash-api.md §2.6): publishes each element of a JSON array as its own
 * `/v2/publish` (or `/v2/enqueue`, when it names a `queue`), through the same code path. An
 * element the caller got wrong (bad headers, an unknown group, a malformed element) answers
 * `{"error"}` in its slot; a body that is not an array of at most MAX_BATCH_MESSAGES is a 400
 * for the whole request. Every element is checked first, then the messages of all of them are
 * stored with one `insertMessages` (AWS sends them to SQS 10 per call). A fault of the server
 * itself (the store failing) fails the request.
 */
export async function publishBatch(
  deps: PublishDeps,
  request: BatchRequest,
): Promise<BatchItemResult[]> {
  const elements = request.messages;
  if (!Array.isArray(elements)) {
    throw new BadRequestError(`invalid batch: the body is not an array; expected ${BATCH_BODY}`);
  }
  if (elements.length > MAX_BATCH_MESSAGES) {
    throw new BadRequestError(
      `invalid batch: ${elements.length} messages; at most ${MAX_BATCH_MESSAGES} are allowed in one batch`,
    );
  }
  const prepared: (PreparedPublish | BatchItemError)[] = [];
  for (const element of elements) {
    try {
      prepared.push(await preparePublish(deps, parseBatchElement(element, request.callerIp)));
    } catch (error) {
      if (!(error instanceof QStashApiError) || error instanceof WorkflowRunEndedError) throw error;
      prepared.push({ error: error.message });
    }
  }
  const publishes = prepared.filter((item): item is PreparedPublish => !('error' in item));
  const inserted = await deps.store.insertMessages(
    publishes.flatMap((publish) => publish.messages),
    deps.clock.now(),
  );
  let next = 0;
  const answers: BatchItemResult[] = [];
  for (const item of prepared) {
    if ('error' in item) {
      answers.push(item);
      continue;
    }
    const results = inserted.slice(next, next + item.messages.length);
    next += item.messages.length;
    answers.push(await publishResult(deps, item, results));
  }
  return answers;
}

/**
 * One element as the publish it stands for: `{destination, headers?, body?, queue?}`. Header
 * names may have any case (the JS SDK lowercases them); `body` and `queue` may be null (the
 * Python SDK sends null for absent ones).
 */
export function parseBatchElement(element: unknown, callerIp?: string): PublishRequest {
  if (!isPlainObject(element)) {
    throw new BadRequestError(
      `invalid batch message ${JSON.stringify(element) ?? 'undefined'}: expected an object with "destination" and optional "headers", "body" and "queue"`,
    );
  }
  const { destination, headers, body, queue } = element;
  if (typeof destination !== 'string' || destination === '') {
    throw new BadRequestError(
      '"destination" is required: a URL starting with http:// or https://, or a URL group name',
    );
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw new BadRequestError(
      `"body" must be a string or null, not ${typeof body}; send JSON bodies already stringified`,
    );
  }
  if (queue !== undefined && queue !== null && typeof queue !== 'string') {
    throw new BadRequestError(`"queue" must be a queue name or null, not ${typeof queue}`);
  }
  return {
    rawDestination: destination,
    rawQuery: '',
    headers: parseHeaders(headers),
    body: encoder.encode(body ?? ''),
    ...(callerIp !== undefined && { callerIp }),
    ...(typeof queue === 'string' && { queueName: queue }),
  };
}

function parseHeaders(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    throw new BadRequestError('"headers" must be an object of header names to string values');
  }
  // No prototype: a header named "constructor" or "__proto__" is just a (useless) header.
  const headers: Record<string, string> = Object.create(null);
  for (const [name, headerValue] of Object.entries(value)) {
    if (typeof headerValue !== 'string') {
      throw new BadRequestError(
        `headers["${name}"] must be a string, not ${JSON.stringify(headerValue)}`,
      );
    }
    const lower = name.toLowerCase();
    if (headers[lower] !== undefined) {
      throw new BadRequestError(
        `headers has "${name}" more than once (header names are case-insensitive); give it once`,
      );
    }
    headers[lower] = headerValue;
  }
  return headers;
}
