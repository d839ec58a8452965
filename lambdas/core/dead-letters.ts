import type { Clock } from '../ports/clock';
import type {
  DeadLetterEntry,
  DeadLetterFilter,
  DeadLetterReplacement,
  DeadLetterStore,
} from '../ports/dead-letter-store';
import type { ListQuery, Page } from '../ports/listing';
import type { QueueStore } from '../ports/queue-store';
import type { CoreConfig } from './config';
import { BadRequestError, NotFoundError } from './errors';
import type { IncomingHeaders } from './headers';
import { canonicalHeaderName } from './headers';
import type { IdGenerator } from './ids';
import type { Message } from './message';
import type { PublishOptions } from './publish-options';
import { parsePublishOptions } from './publish-options';

export type DeadLetterDeps = {
  readonly deadLetters: DeadLetterStore;
  readonly queues: QueueStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: CoreConfig;
};

function notInDlq(dlqIds: readonly string[]): NotFoundError {
  const quoted = dlqIds.map((id) => `"${id}"`).join(', ');
  return new NotFoundError(
    `${dlqIds.length === 1 ? 'dead letter' : 'dead letters'} ${quoted} not found in the DLQ: never there, deleted, or already retried`,
  );
}

/** An explicitly empty `dlqIds` selects nothing, never everything. */
function selectsNothing(query: ListQuery<DeadLetterFilter>): boolean {
  return query.filter.dlqIds?.length === 0 || query.filter.responseStatus?.length === 0;
}

export async function listDeadLetters(
  deps: DeadLetterDeps,
  query: ListQuery<DeadLetterFilter>,
): Promise<Page<DeadLetterEntry>> {
  if (selectsNothing(query)) return { items: [] };
  return deps.deadLetters.listDeadLetters(query);
}

export async function getDeadLetter(deps: DeadLetterDeps, dlqId: string): Promise<DeadLetterEntry> {
  const entry = await deps.deadLetters.getDeadLetter(dlqId);
  if (!entry) throw notInDlq([dlqId]);
  return entry;
}

export async function deleteDeadLetter(deps: DeadLetterDeps, dlqId: string): Promise<void> {
  const { deleted } = await deps.deadLetters.deleteDeadLetters({
    filter: { dlqIds: [dlqId] },
    count: 1,
    order: 'latestFirst',
  });
  if (deleted === 0) throw notInDlq([dlqId]);
}

/** `DELETE /v2/dlq`: one batch of at most `query.count`; the cursor continues with the next. */
export async function deleteDeadLetters(
  deps: DeadLetterDeps,
  query: ListQuery<DeadLetterFilter>,
): Promise<{ deleted: number; cursor?: string }> {
  if (selectsNothing(query)) return { deleted: 0 };
  const { dlqIds } = query.filter;
  // Ids name their entries: all of them are deleted, however many, in one step.
  const batch = dlqIds ? { ...query, count: new Set(dlqIds).size, cursor: undefined } : query;
  return deps.deadLetters.deleteDeadLetters(batch);
}

/**
 * `POST /v2/dlq/retry`: publishes each selected dead letter again as a new message (new id,
 * same destination, body and headers) and takes it out of the DLQ, atomically. The retry
 * request's own `Upstash-*` headers override the original configuration, parsed by the publish
 * rules so a bad value is the same 400. With `dlqIds`, every id must be in the DLQ (404
 * otherwise, and nothing is retried); with filters, one batch of `query.count` is retried and
 * the cursor continues with the next.
 */
export async function retryDeadLetters(
  deps: DeadLetterDeps,
  query: ListQuery<DeadLetterFilter>,
  headers: IncomingHeaders,
): Promise<{ messageIds: string[]; cursor?: string }> {
  const overrides = parseRetryOverrides(headers, deps.config);
  const now = deps.clock.now();
  const notBefore = retryDueAt(overrides, now, deps.config);
  if (selectsNothing(query)) return { messageIds: [] };
  const { entries, cursor } = await selectForRetry(deps, query);
  const replacements: DeadLetterReplacement[] = entries.map((entry) => ({
    dlqId: entry.deadLetter.dlqId,
    message: retryMessage(entry.message, overrides, deps.ids.messageId(), now, notBefore),
  }));
  for (const queueName of new Set(replacements.map(({ message }) => message.queueName))) {
    // The queue may have been deleted since the message failed; enqueueing recreates it.
    if (queueName !== undefined) await deps.queues.ensureQueue(queueName, now);
  }
  const { missing } = await deps.deadLetters.replaceWithMessages(replacements, now);
  if (missing.length > 0) throw notInDlq(missing);
  return { messageIds: replacements.map(({ message }) => message.messageId), cursor };
}

async function selectForRetry(
  deps: DeadLetterDeps,
  query: ListQuery<DeadLetterFilter>,
): Promise<{ entries: DeadLetterEntry[]; cursor?: string }> {
  const { dlqIds } = query.filter;
  if (dlqIds === undefined) return pageEntries(await deps.deadLetters.listDeadLetters(query));
  const wanted = [...new Set(dlqIds)];
  const page = await deps.deadLetters.listDeadLetters({
    ...query,
    filter: { ...query.filter, dlqIds: wanted },
    count: wanted.length,
    cursor: undefined,
  });
  const found = new Map(page.items.map((entry) => [entry.deadLetter.dlqId, entry]));
  const missing = wanted.filter((dlqId) => !found.has(dlqId));
  if (missing.length > 0) throw notInDlq(missing);
  // Answered in the order the ids were asked for.
  return { entries: wanted.map((dlqId) => found.get(dlqId)!) };
}

function pageEntries(page: Page<DeadLetterEntry>): { entries: DeadLetterEntry[]; cursor?: string } {
  return { entries: page.items, ...(page.cursor !== undefined && { cursor: page.cursor }) };
}

/** The configuration a retry request's headers change; absent fields keep the original's. */
export type RetryOverrides = {
  readonly options: PublishOptions;
  /** The request's headers (lowercase names), to tell which settings it gave. */
  readonly headers: IncomingHeaders;
};

/**
 * Reads a retry request's headers with the publish parser, so a refused value is the same 400.
 * The request's own `Content-Type` is not an override (an SDK sends one with any POST): the
 * message keeps its own; `Upstash-Forward-*` headers are, and replace same-named ones.
 */
export function parseRetryOverrides(headers: IncomingHeaders, config: CoreConfig): RetryOverrides {
  const { 'content-type': _contentType, ...rest } = headers;
  const options = parsePublishOptions(rest, config);
  for (const name of ['upstash-deduplication-id', 'upstash-content-based-deduplication']) {
    if (rest[name] !== undefined) {
      throw new BadRequestError(
        `${canonicalHeaderName(name)} is not accepted on a DLQ retry: a dead letter is retried once, by taking it out of the DLQ`,
      );
    }
  }
  if (options.cron !== undefined) {
    throw new BadRequestError('Upstash-Cron is not accepted on a DLQ retry');
  }
  return { options, headers: rest };
}

/** When a retried message is due: now, or as `Upstash-Delay` / `Upstash-Not-Before` say. */
function retryDueAt(overrides: RetryOverrides, nowMs: number, config: CoreConfig): number {
  const { due } = overrides.options;
  const notBefore = due.kind === 'at' ? due.timeMs : nowMs + due.delayMs;
  if (notBefore - nowMs > config.maxDelayMs) {
    throw new BadRequestError(
      `invalid Upstash-Not-Before "${overrides.headers['upstash-not-before']}": at most ${config.maxDelayMs / 1000}s in the future is allowed`,
    );
  }
  return notBefore;
}

/**
 * The new message a retry publishes: the dead one's, with a new id, created now, and the
 * overrides. Its deduplication id is dropped: the retry is not a publish to deduplicate.
 */
export function retryMessage(
  original: Message,
  overrides: RetryOverrides,
  messageId: string,
  nowMs: number,
  notBefore: number,
): Message {
  const { options, headers } = overrides;
  const has = (name: string) => headers[name] !== undefined;
  const { deduplicationId: _deduplicationId, ...kept } = original;
  return {
    ...kept,
    messageId,
    createdAt: nowMs,
    notBefore,
    header: { ...original.header, ...options.header },
    ...(has('upstash-method') && { method: options.method }),
    ...(has('upstash-retries') && { maxRetries: options.maxRetries }),
    ...(has('upstash-retry-delay') && { retryDelayExpression: options.retryDelayExpression }),
    ...(has('upstash-timeout') && { timeoutMs: options.timeoutMs }),
    ...(has('upstash-callback') && { callback: options.callback }),
    ...(has('upstash-failure-callback') && { failureCallback: options.failureCallback }),
    ...(has('upstash-label') && { labels: options.labels }),
    ...(has('upstash-flow-control-key') && { flowControl: options.flowControl }),
    ...(has('upstash-redact-fields') && { redaction: options.redaction }),
  };
}
