import type { Clock } from '../ports/clock';
import type { DedupClaim, InsertResult, MessageStore, NewMessage } from '../ports/message-store';
import type { QueueStore } from '../ports/queue-store';
import type { Telemetry } from '../ports/telemetry';
import type { UrlGroupStore } from '../ports/url-group-store';
import type { WorkflowRunStore } from '../ports/workflow-run-store';
import type { CoreConfig } from './config';
import { dedupKey } from './dedup';
import type { Destination } from './destination';
import { parseDestination } from './destination';
import { BadRequestError, PayloadTooLargeError } from './errors';
import type { IncomingHeaders } from './headers';
import type { IdGenerator } from './ids';
import type { Message } from './message';
import type { PublishOptions } from './publish-options';
import { mergeQueryConfig, parsePublishOptions } from './publish-options';
import { validateQueueName } from './queues';
import { groupNotFound } from './url-groups';
import type { WaitResolution } from './workflow/workflow-publish';
import { prepareWorkflowPublish, recordWorkflowMessage } from './workflow/workflow-publish';

/** A publish as the API layer received it: the path after `/v2/publish/`, raw. */
export type PublishRequest = {
  readonly rawDestination: string;
  readonly rawQuery: string;
  /** Lowercase names. */
  readonly headers: IncomingHeaders;
  readonly body: Uint8Array;
  readonly callerIp?: string;
  /** From `/v2/enqueue/{queue}/...`: the FIFO queue to publish into, created if missing. */
  readonly queueName?: string;
  /** Internal, never from a header: the schedule whose tick this publish is (core/schedules.ts). */
  readonly scheduleId?: string;
  /**
   * Internal, never from a header: a dedup key that makes a repeated publish of the same thing
   * (one schedule tick fired twice) create one message. It replaces the request's own
   * deduplication, so a tick is never deduplicated against anything but itself.
   */
  readonly idempotencyKey?: string;
  /** When the idempotency key may be reused. @default now + the dedup window */
  readonly idempotencyExpiresAt?: number;
  /** Internal, never from a header: the wait of a workflow run this message resolves. */
  readonly resolvesWait?: WaitResolution;
};

export type PublishedMessage = { messageId: string; url: string; deduplicated: boolean };

/**
 * What a publish answers, shaped as on the wire (qstash-api.md §2.8): one message for a URL
 * destination, an array with one message per endpoint, in the group's order, for a URL group.
 */
export type PublishResult = PublishedMessage | PublishedMessage[];

export type PublishDeps = {
  readonly store: MessageStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: CoreConfig;
  readonly queues: QueueStore;
  readonly urlGroups: UrlGroupStore;
  readonly telemetry?: Telemetry;
  /** Upstash Workflow's run registry; without it a publish for a run is refused (501). */
  readonly workflowRuns?: WorkflowRunStore;
};

/** Where one message of a publish goes: the URL, or one endpoint of the URL group. */
type Target = { readonly url: string; readonly topicName?: string; readonly endpointName?: string };

/** A publish whose request passed every check that needs no store (see validatePublish). */
export type ValidatedPublish = {
  readonly destination: Destination;
  /** The request headers with the QStash query parameters merged under them. */
  readonly headers: IncomingHeaders;
  readonly options: PublishOptions;
  /** When the first attempt is due (ms). */
  readonly notBefore: number;
};

/**
 * The checks of a publish that need no store: body size, destination, every `Upstash-*` header
 * and the due time. Schedule creation runs them too (core/schedules.ts), so a schedule is only
 * stored if its ticks' publishes would pass them. `Upstash-Cron` is read, not refused.
 */
export function validatePublish(
  config: CoreConfig,
  request: PublishRequest,
  now: number,
): ValidatedPublish {
  if (request.body.byteLength > config.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `message body is ${request.body.byteLength} bytes; at most ${config.maxBodyBytes} bytes are allowed`,
    );
  }
  const destination = parseDestination(request.rawDestination, request.rawQuery);
  const headers = mergeQueryConfig(request.headers, request.rawQuery);
  const options = parsePublishOptions(headers, config);
  const notBefore = options.due.kind === 'at' ? options.due.timeMs : now + options.due.delayMs;
  if (notBefore - now > config.maxDelayMs) {
    throw new BadRequestError(
      `invalid Upstash-Not-Before "${headers['upstash-not-before']}": at most ${config.maxDelayMs / 1000}s in the future is allowed`,
    );
  }
  if (request.queueName !== undefined) validateQueueName(request.queueName);
  return { destination, headers, options, notBefore };
}

/**
 * A publish that passed every check and holds its messages, not stored yet: one message for a
 * URL, one per endpoint for a URL group, each with its dedup claim.
 */
export type PreparedPublish = {
  readonly destination: Destination;
  readonly messages: readonly NewMessage[];
  /** The message belongs to an Upstash Workflow run, which records it once stored. */
  readonly workflow: boolean;
  /** When the publish started (a monotonic clock: the Clock port is wall time, which may step). */
  readonly startedAt: number;
};

/**
 * Validates a publish, deduplicates it and stores it; the store makes it deliverable. The
 * message is durable before this resolves, so an acknowledged publish survives a crash.
 *
 * A URL group fans out: the headers are validated once, then each endpoint gets its own
 * message (own id, retries and dead letter) with `topicName` set, deduplicated on its own, and
 * all of them are stored in one `insertMessages`. One code path for `/v2/publish`,
 * `/v2/enqueue`, each element of `/v2/batch` and each schedule tick.
 */
export async function publishMessage(
  deps: PublishDeps,
  request: PublishRequest,
): Promise<PublishResult> {
  const prepared = await preparePublish(deps, request);
  const results = await deps.store.insertMessages(prepared.messages, deps.clock.now());
  return publishResult(deps, prepared, results);
}

/**
 * Every check of a publish that can refuse it, then its messages, built but not stored
 * (`publishMessage` and `publishBatch` store them). Creates the FIFO queue it names if missing.
 */
export async function preparePublish(
  deps: PublishDeps,
  received: PublishRequest,
): Promise<PreparedPublish> {
  const { config } = deps;
  const startedAt = performance.now();
  const now = deps.clock.now();
  // A message of an Upstash Workflow run is configured by its run (core/workflow).
  const workflow = await prepareWorkflowPublish(deps.workflowRuns, received, now);
  const request = workflow?.request ?? received;
  const { destination, headers, options, notBefore } = validatePublish(config, request, now);
  if (workflow && destination.kind !== 'url') {
    throw new BadRequestError('a workflow run publishes to a URL, not to a URL group');
  }
  if (options.cron !== undefined) {
    // The routes that create schedules take Upstash-Cron before this; elsewhere (batch, DLQ
    // retry) publishing one message and ignoring the cron would silently drop the schedule.
    throw new BadRequestError(
      'Upstash-Cron is not accepted here: create a schedule with POST /v2/schedules/{destination} or POST /v2/publish/{destination}',
    );
  }
  // Every check that can refuse the publish runs before anything is written.
  const targets = await resolveTargets(deps, destination);
  if (request.queueName !== undefined) {
    // Enqueueing into a queue that does not exist creates it, with parallelism 1 (QStash).
    await deps.queues.ensureQueue(validateQueueName(request.queueName), now);
  }
  const template: Omit<Message, 'messageId' | 'url'> = {
    method: options.method,
    header: options.header,
    body: request.body,
    maxRetries: options.maxRetries,
    retryDelayExpression: options.retryDelayExpression,
    timeoutMs: options.timeoutMs,
    notBefore,
    createdAt: now,
    callback: options.callback,
    failureCallback: options.failureCallback,
    labels: options.labels,
    callerIp: request.callerIp,
    deduplicationId:
      request.idempotencyKey === undefined && options.dedup?.kind === 'id'
        ? options.dedup.id
        : undefined,
    queueName: request.queueName,
    scheduleId: request.scheduleId,
    ...(workflow && { workflow: workflow.tag }),
    flowControl: options.flowControl,
    redaction: options.redaction,
  };
  // Content-based keys hash the destination as given: the URL, or the group's name.
  const baseKey =
    workflow?.dedupKey ??
    request.idempotencyKey ??
    (options.dedup &&
      dedupKey(
        options.dedup,
        destination.kind === 'url' ? destination.url : destination.name,
        headers,
        request.body,
      ));
  const claimExpiresAt =
    request.idempotencyKey !== undefined && request.idempotencyExpiresAt !== undefined
      ? request.idempotencyExpiresAt
      : now + config.dedupWindowMs;
  const messages = targets.map((target): NewMessage => {
    const message: Message = {
      ...template,
      messageId: deps.ids.messageId(),
      url: target.url,
      ...(target.topicName !== undefined && { topicName: target.topicName }),
      ...(target.endpointName !== undefined && { endpointName: target.endpointName }),
    };
    // Each endpoint of a group is deduplicated on its own key. A URL always holds a ":" and a
    // deduplication id never does, so no endpoint key equals another publish's key by accident.
    const dedup: DedupClaim | undefined = baseKey
      ? {
          key: destination.kind === 'url' ? baseKey : `${baseKey}|${target.url}`,
          expiresAt: claimExpiresAt,
        }
      : undefined;
    return { message, ...(dedup && { dedup }) };
  });
  return { destination, messages, workflow: workflow !== undefined, startedAt };
}

/**
 * What follows a publish's store, and what it answers: a workflow run records its message, the
 * telemetry counts it, and the answer is the message, or the array of a URL group's messages.
 */
export async function publishResult(
  deps: PublishDeps,
  prepared: PreparedPublish,
  results: readonly InsertResult[],
): Promise<PublishResult> {
  const published = prepared.messages.map(({ message }, index): PublishedMessage => {
    const result = results[index]!;
    return result.inserted
      ? { messageId: message.messageId, url: message.url, deduplicated: false }
      : { messageId: result.existingMessageId, url: message.url, deduplicated: true };
  });
  if (prepared.workflow) {
    for (const [index, { message }] of prepared.messages.entries()) {
      await recordWorkflowMessage(deps.workflowRuns!, message, published[index]!.deduplicated);
    }
  }
  if (deps.telemetry) {
    let deduplicated = 0;
    for (const message of published) if (message.deduplicated) deduplicated += 1;
    deps.telemetry.published(
      published.length - deduplicated,
      deduplicated,
      performance.now() - prepared.startedAt,
    );
  }
  return prepared.destination.kind === 'url' ? published[0]! : published;
}

/** The URL itself, or every endpoint of the group; a group that does not exist is a 404. */
async function resolveTargets(deps: PublishDeps, destination: Destination): Promise<Target[]> {
  if (destination.kind === 'url') return [{ url: destination.url }];
  const group = await deps.urlGroups.getGroup(destination.name);
  if (!group) throw groupNotFound(destination.name);
  return group.endpoints.map((endpoint) => ({
    url: endpoint.url,
    topicName: group.name,
    endpointName: endpoint.name,
  }));
}
