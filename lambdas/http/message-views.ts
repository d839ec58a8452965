import { isUtf8 } from 'node:buffer';
import type { FlowControl } from '../core/flow-control';
import type { HeaderMap } from '../core/headers';
import type { Message } from '../core/message';
import { redactBody, redactHeaders } from '../core/redaction';
import type { DeadLetterEntry } from '../ports/dead-letter-store';
import type { LogRecord } from '../ports/event-log';

/**
 * The JSON shapes of messages, dead letters and log entries on the wire (qstash-api.md §1,
 * §6.1–6.3). Where the SDKs disagree on a field's name, both are sent (§9): `callerIP` and
 * `callerIp`, `responseHeaders` and `responseHeader`, `retryDelayExpression` and `retryDelayExpr`.
 */

export type Json = Record<string, unknown>;

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** `{body}` when the bytes are UTF-8, else `{bodyBase64}`; nothing when there are none. */
export function textOrBase64(bytes: Uint8Array, key: string): Json {
  if (bytes.byteLength === 0) return {};
  return isUtf8(bytes)
    ? { [key]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') }
    : { [`${key}Base64`]: base64(bytes) };
}

/** `labels`, and the deprecated `label` (the first one) when there is one. */
export function labelFields(labels: readonly string[]): Json {
  // `label` is deprecated: the first label, for SDKs that still read one.
  return { labels: [...labels], ...(labels.length > 0 && { label: labels[0] }) };
}

/** `flowControlKey`, `parallelism`, `rate` and `period` (seconds), as the message was published. */
export function flowControlFields(flowControl: FlowControl | undefined): Json {
  if (!flowControl) return {};
  return defined({
    flowControlKey: flowControl.key,
    parallelism: flowControl.parallelism,
    rate: flowControl.rate,
    period: flowControl.periodSec,
  });
}

/** The fields without those whose value is undefined. */
export function defined(fields: Json): Json {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** A Message object, as `GET /v2/messages/{id}` answers; redacted fields show hashed. */
export function messageView(message: Message): Json {
  const { redaction } = message;
  return defined({
    messageId: message.messageId,
    url: message.url,
    topicName: message.topicName,
    endpointName: message.endpointName,
    method: message.method,
    header: redactHeaders(message.header, redaction),
    ...textOrBase64(redactBody(message.body, redaction), 'body'),
    maxRetries: message.maxRetries,
    retryDelayExpression: message.retryDelayExpression,
    notBefore: message.notBefore,
    createdAt: message.createdAt,
    callback: message.callback?.url,
    failureCallback: message.failureCallback?.url,
    callbackHeader: message.callback && redactHeaders(message.callback.header, redaction),
    failureCallbackHeader:
      message.failureCallback && redactHeaders(message.failureCallback.header, redaction),
    queueName: message.queueName,
    scheduleId: message.scheduleId,
    callerIP: message.callerIp,
    callerIp: message.callerIp,
    ...labelFields(message.labels),
    ...flowControlFields(message.flowControl),
    timeout: message.timeoutMs,
  });
}

/**
 * A DLQMessage: the message, plus what its last attempt got back (`responseStatus` 0 for none),
 * and for a workflow run's message, the run it belongs to.
 */
export function deadLetterView({ deadLetter, message }: DeadLetterEntry): Json {
  return {
    ...messageView(message),
    ...(message.workflow && {
      workflowRunId: message.workflow.runId,
      workflowCreatedAt: message.workflow.createdAt,
      workflowUrl: message.workflow.url,
    }),
    dlqId: deadLetter.dlqId,
    responseStatus: deadLetter.responseStatus,
    responseHeader: deadLetter.responseHeader,
    ...textOrBase64(deadLetter.responseBody, 'responseBody'),
  };
}

/**
 * A LogEntry: the event, with the message's configuration echoed from the message as created.
 * Bodies in log entries are always base64 (a redacted one: of its `REDACTED:<hash>`).
 */
export function logEntryView({ event, message }: LogRecord): Json {
  const responseHeader: HeaderMap | undefined = event.responseHeader;
  return defined({
    time: event.time,
    messageId: event.messageId,
    state: event.state,
    url: event.url,
    error: event.error,
    nextDeliveryTime: event.nextDeliveryTime,
    responseStatus: event.responseStatus,
    responseHeaders: responseHeader,
    responseHeader,
    responseBody: event.responseBody,
    ...(message && {
      topicName: message.topicName,
      endpointName: message.endpointName,
      scheduleId: message.scheduleId,
      queueName: message.queueName,
      header: redactHeaders(message.header, message.redaction),
      ...(message.body.byteLength > 0 && {
        body: base64(redactBody(message.body, message.redaction)),
      }),
      method: message.method,
      maxRetries: message.maxRetries,
      timeout: message.timeoutMs,
      callback: message.callback?.url,
      callbackHeaders:
        message.callback && redactHeaders(message.callback.header, message.redaction),
      failureCallback: message.failureCallback?.url,
      failureCallbackHeaders:
        message.failureCallback && redactHeaders(message.failureCallback.header, message.redaction),
      retryDelayExpression: message.retryDelayExpression,
      retryDelayExpr: message.retryDelayExpression,
      callerIP: message.callerIp,
      ...labelFields(message.labels),
      ...flowControlFields(message.flowControl),
    }),
  });
}
