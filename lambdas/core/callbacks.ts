import type { HeaderMap } from './headers';
import type { IdGenerator } from './ids';
import type { CallbackKind, CallbackSpec, Message } from './message';
import { redactsAnything } from './redaction';

/** What the attempt being reported on produced; status 0 when no response arrived. */
export type AttemptReport = {
  readonly status: number;
  readonly header: HeaderMap;
  readonly body: Uint8Array;
  readonly retried: number;
  readonly error?: string;
  readonly dlqId?: string;
};

const encoder = new TextEncoder();

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The JSON body QStash posts to a callback or failure callback (qstash-api.md §5.2). */
export function callbackPayload(source: Message, report: AttemptReport): Record<string, unknown> {
  return {
    status: report.status,
    header: report.header,
    body: base64(report.body),
    retried: report.retried,
    maxRetries: source.maxRetries,
    ...(report.dlqId !== undefined && { dlqId: report.dlqId }),
    ...(report.error !== undefined && { error: report.error }),
    sourceMessageId: source.messageId,
    ...(source.topicName !== undefined && { topicName: source.topicName }),
    ...(source.endpointName !== undefined && { endpointName: source.endpointName }),
    url: source.url,
    method: source.method,
    sourceHeader: source.header,
    sourceBody: base64(source.body),
    notBefore: source.notBefore,
    createdAt: source.createdAt,
    ...(source.scheduleId !== undefined && { scheduleId: source.scheduleId }),
    ...(source.callerIp !== undefined && { callerIP: source.callerIp }),
  };
}

/**
 * A callback is a new message of its own: signed for the callback URL, retried with the source
 * message's retry settings unless its `Upstash-Callback-*` headers say otherwise.
 */
export function buildCallbackMessage(
  spec: CallbackSpec,
  kind: CallbackKind,
  source: Message,
  report: AttemptReport,
  ids: IdGenerator,
  nowMs: number,
  defaultTimeoutMs: number,
): Message {
  return {
    messageId: ids.messageId(),
    url: spec.url,
    method: spec.method,
    header: { 'Content-Type': ['application/json'], ...spec.header },
    body: encoder.encode(JSON.stringify(callbackPayload(source, report))),
    maxRetries: spec.retries ?? source.maxRetries,
    retryDelayExpression: spec.retryDelayExpression ?? source.retryDelayExpression,
    timeoutMs: spec.timeoutMs ?? defaultTimeoutMs,
    notBefore: nowMs,
    createdAt: nowMs,
    labels: source.labels,
    callerIp: source.callerIp,
    callbackFor: { sourceMessageId: source.messageId, kind },
    ...(spec.flowControl !== undefined && { flowControl: spec.flowControl }),
    // The payload carries the source's body and headers: what the source hides, its callbacks
    // hide too (the callback URL still receives the payload as is).
    ...(redactsAnything(source.redaction) && { redaction: { body: true } }),
  };
}
