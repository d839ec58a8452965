import type { Clock } from '../ports/clock';
import type { DeliveryClient, DeliveryRequest, DeliveryResponse } from '../ports/delivery-client';
import { AttemptAbortedError, DeliveryAttemptError } from '../ports/delivery-client';
import type { AttemptSettlement } from '../ports/message-store';
import { retryDelayMs } from './backoff';
import type { AttemptReport } from './callbacks';
import { buildCallbackMessage } from './callbacks';
import type { CoreConfig } from './config';
import type { HeaderMap } from './headers';
import { canonicalHeaderName } from './headers';
import type { IdGenerator } from './ids';
import type { DeadLetter, LogEvent, Message } from './message';
import type { SigningKeys } from './signing';
import { signRequest } from './signing';

const USER_AGENT = 'Upstash-QStash';
const NON_RETRYABLE_STATUS = 489;
const MAX_ERROR_BODY_CHARS = 200;
/** Set by sqstash alone: a forwarded header of the same name is dropped, never passed on. */
const SYSTEM_HEADERS = new Set([
  'User-Agent',
  'Upstash-Message-Id',
  'Upstash-Retried',
  'Upstash-Schedule-Id',
  'Upstash-Topic-Name',
  'Upstash-Caller-Ip',
  'Upstash-Signature',
]);
/**
 * Hop-by-hop and framing headers belong to the outgoing connection, not the message, so a
 * forwarded one is dropped: undici refuses several of them (every attempt would fail) and a
 * forwarded Host would reach the wrong virtual host. QStash's Go client likewise ignores Host,
 * Content-Length, Transfer-Encoding and Trailer. Apps that pass an incoming request's headers
 * to the SDK forward all of these.
 */
const CONNECTION_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'content-length',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

export type DeliveryDeps = {
  readonly client: DeliveryClient;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: CoreConfig;
  readonly signingKeys: () => SigningKeys;
};

/** The signed HTTP request for one attempt (qstash-api.md §3.1). */
export async function buildDeliveryRequest(
  deps: DeliveryDeps,
  message: Message,
  retried: number,
  signal?: AbortSignal,
): Promise<DeliveryRequest> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(message.header)) {
    if (!SYSTEM_HEADERS.has(name) && !CONNECTION_HEADERS.has(name.toLowerCase()))
      headers[name] = values.join(', ');
  }
  headers['User-Agent'] = USER_AGENT;
  headers['Upstash-Message-Id'] = message.messageId;
  headers['Upstash-Retried'] = String(retried);
  if (message.scheduleId !== undefined) headers['Upstash-Schedule-Id'] = message.scheduleId;
  if (message.topicName !== undefined) headers['Upstash-Topic-Name'] = message.topicName;
  if (message.callerIp !== undefined) headers['Upstash-Caller-Ip'] = message.callerIp;
  headers['Upstash-Signature'] = signRequest(
    deps.signingKeys().current,
    message.url,
    message.body,
    deps.clock.now(),
    deps.ids.jwtId(),
  );
  return {
    url: message.url,
    method: message.method,
    headers,
    body: message.body,
    timeoutMs: message.timeoutMs,
    signal,
  };
}

/**
 * Makes one delivery attempt and decides what follows: delivered on 2xx; otherwise a retry at
 * the computed delay, or, once retries are exhausted or the destination answered 489 with
 * `Upstash-NonRetryable-Error: true`, a dead letter. Callbacks and the failure callback become
 * new messages in the settlement. Throws AttemptAbortedError when the signal fired (shutdown):
 * that attempt must be released, not settled. `startedAt`, its ACTIVE entry's time, is when the
 * runtime let it start (a flow-control key counts it then), or else now.
 */
export async function attemptDelivery(
  deps: DeliveryDeps,
  message: Message,
  retried: number,
  signal?: AbortSignal,
  startedAt: number = deps.clock.now(),
): Promise<AttemptSettlement> {
  const request = await buildDeliveryRequest(deps, message, retried, signal);
  let response: DeliveryResponse | undefined;
  let error: string | undefined;
  try {
    response = await deps.client.send(request);
  } catch (cause) {
    if (cause instanceof AttemptAbortedError) throw cause;
    error =
      cause instanceof DeliveryAttemptError ? cause.message : `delivery failed: ${String(cause)}`;
  }
  return settle(deps, message, retried, startedAt, response, error);
}

function settle(
  deps: DeliveryDeps,
  message: Message,
  retried: number,
  startedAt: number,
  response: DeliveryResponse | undefined,
  transportError: string | undefined,
): AttemptSettlement {
  const now = deps.clock.now();
  const base = { messageId: message.messageId, url: message.url };
  const events: LogEvent[] = [{ ...base, time: startedAt, state: 'ACTIVE' }];
  const delivered = response !== undefined && response.status >= 200 && response.status < 300;
  // Only a callback or a failure reports the response's headers: a plain delivery skips them.
  const responseHeader =
    response && (message.callback || !delivered) ? canonicalHeaders(response.headers) : {};
  const report: AttemptReport = {
    status: response?.status ?? 0,
    header: responseHeader,
    body: response?.body ?? new Uint8Array(),
    retried,
    ...(transportError !== undefined && { error: transportError }),
  };
  const callbacks: Message[] = [];
  // A callback reports a response; an attempt that got none has nothing to report.
  if (message.callback && response) {
    callbacks.push(
      buildCallbackMessage(
        message.callback,
        'callback',
        message,
        report,
        deps.ids,
        now,
        deps.config.maxTimeoutMs,
      ),
    );
  }

  if (delivered) {
    events.push({ ...base, time: now, state: 'DELIVERED', responseStatus: response.status });
    return { message, retried, outcome: { kind: 'delivered' }, events, callbacks };
  }

  const error =
    transportError ?? describeFailedResponse({ status: report.status, body: report.body });
  events.push({
    ...base,
    time: now,
    state: 'ERROR',
    error,
    ...(response && {
      responseStatus: response.status,
      responseHeader,
      responseBody: Buffer.from(response.body).toString('base64'),
    }),
  });
  const nonRetryable =
    response?.status === NON_RETRYABLE_STATUS &&
    response.headers['upstash-nonretryable-error']?.[0]?.trim().toLowerCase() === 'true';

  if (!nonRetryable && retried < message.maxRetries) {
    const retryAt = now + retryDelayMs(message, retried, response?.headers, deps.config, now);
    events.push({ ...base, time: now, state: 'RETRY', nextDeliveryTime: retryAt });
    return { message, retried, outcome: { kind: 'retry', retryAt }, events, callbacks };
  }
  return deadLetterSettlement(deps, message, retried, { ...report, error }, events, callbacks);
}

/**
 * Gives up on a message without another attempt: its deliveries kept failing outside the
 * core's control (the AWS runtime's SQS redrive after repeated crashes or throttles). It is
 * dead-lettered with `reason`, and its failure callback fires, as after exhausted retries.
 */
export function abandonDelivery(
  deps: Pick<DeliveryDeps, 'clock' | 'ids' | 'config'>,
  message: Message,
  retried: number,
  reason: string,
): AttemptSettlement {
  const report: AttemptReport = {
    status: 0,
    header: {},
    body: new Uint8Array(),
    retried,
    error: reason,
  };
  return deadLetterSettlement(deps, message, retried, report, [], []);
}

function deadLetterSettlement(
  deps: Pick<DeliveryDeps, 'clock' | 'ids' | 'config'>,
  message: Message,
  retried: number,
  report: AttemptReport,
  events: LogEvent[],
  callbacks: Message[],
): AttemptSettlement {
  const now = deps.clock.now();
  const error = report.error ?? describeFailedResponse(report);
  const deadLetter: DeadLetter = {
    dlqId: deps.ids.dlqId(now),
    messageId: message.messageId,
    failedAt: now,
    responseStatus: report.status,
    responseHeader: report.header,
    responseBody: report.body,
    error,
  };
  events.push({
    messageId: message.messageId,
    url: message.url,
    time: now,
    state: 'FAILED',
    error,
  });
  if (message.failureCallback) {
    callbacks.push(
      buildCallbackMessage(
        message.failureCallback,
        'failure-callback',
        message,
        { ...report, dlqId: deadLetter.dlqId },
        deps.ids,
        now,
        deps.config.maxTimeoutMs,
      ),
    );
  }
  return { message, retried, outcome: { kind: 'failed', deadLetter }, events, callbacks };
}

function canonicalHeaders(headers: Readonly<Record<string, string[]>>): HeaderMap {
  const result: HeaderMap = {};
  for (const [name, values] of Object.entries(headers))
    result[canonicalHeaderName(name)] = [...values];
  return result;
}

function describeFailedResponse(response: {
  readonly status: number;
  readonly body: Uint8Array;
}): string {
  const text = Buffer.from(response.body).toString('utf8', 0, MAX_ERROR_BODY_CHARS * 4);
  const snippet =
    text.length > MAX_ERROR_BODY_CHARS ? `${text.slice(0, MAX_ERROR_BODY_CHARS)}…` : text;
  const redirect =
    response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
  return `destination answered ${response.status}${redirect}${snippet ? `: ${snippet}` : ''}`;
}
