import type { Clock } from '../ports/clock';
import type { DeliveryQueue, MessageStore } from '../ports/message-store';
import type { CoreConfig } from './config';
import { dedupKey } from './dedup';
import { parseDestination } from './destination';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from './errors';
import type { IncomingHeaders } from './headers';
import type { IdGenerator } from './ids';
import type { Message } from './message';
import { mergeQueryConfig, parsePublishOptions } from './publish-options';

/** A publish as the API layer received it: the path after `/v2/publish/`, raw. */
export type PublishRequest = {
  readonly rawDestination: string;
  readonly rawQuery: string;
  /** Lowercase names. */
  readonly headers: IncomingHeaders;
  readonly body: Uint8Array;
  readonly callerIp?: string;
};

export type PublishedMessage = { messageId: string; url: string; deduplicated: boolean };

export type PublishDeps = {
  readonly store: MessageStore;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: CoreConfig;
};

/**
 * Validates a publish, deduplicates it, stores it and hands it to the delivery queue. The
 * message is durable before this resolves, so an acknowledged publish survives a crash.
 */
export async function publishMessage(
  deps: PublishDeps,
  request: PublishRequest,
): Promise<PublishedMessage> {
  const { config } = deps;
  if (request.body.byteLength > config.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `message body is ${request.body.byteLength} bytes; at most ${config.maxBodyBytes} bytes are allowed`,
    );
  }
  const destination = parseDestination(request.rawDestination, request.rawQuery);
  if (destination.kind === 'group') {
    throw new NotFoundError(`URL group "${destination.name}" not found`);
  }
  const headers = mergeQueryConfig(request.headers, request.rawQuery);
  const options = parsePublishOptions(headers, config);
  if (options.cron !== undefined) {
    throw new BadRequestError(
      'Upstash-Cron is not accepted: schedules are not supported by this server yet',
    );
  }
  const now = deps.clock.now();
  const notBefore = options.due.kind === 'at' ? options.due.timeMs : now + options.due.delayMs;
  if (notBefore - now > config.maxDelayMs) {
    throw new BadRequestError(
      `invalid Upstash-Not-Before "${headers['upstash-not-before']}": at most ${config.maxDelayMs / 1000}s in the future is allowed`,
    );
  }
  const message: Message = {
    messageId: deps.ids.messageId(),
    url: destination.url,
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
    deduplicationId: options.dedup?.kind === 'id' ? options.dedup.id : undefined,
  };
  const dedup = options.dedup && {
    key: dedupKey(options.dedup, destination.url, headers, request.body),
    expiresAt: now + config.dedupWindowMs,
  };
  const result = await deps.store.insertMessage(message, dedup, now);
  if (!result.inserted) {
    return { messageId: result.existingMessageId, url: destination.url, deduplicated: true };
  }
  await deps.queue.enqueue(message.messageId, notBefore);
  return { messageId: message.messageId, url: destination.url, deduplicated: false };
}
