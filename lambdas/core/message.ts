import type { FlowControl } from './flow-control';
import type { HeaderMap } from './headers';
import type { Redaction } from './redaction';
import type { WorkflowTag } from './workflow/workflow-run';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * How to build the message that reports on an attempt: from `Upstash-Callback` or
 * `Upstash-Failure-Callback` and their `Upstash-Callback-*` / `Upstash-Failure-Callback-*`
 * sub-headers, which configure the callback message as the plain headers configure a message.
 */
export type CallbackSpec = {
  readonly url: string;
  readonly method: HttpMethod;
  /** Headers sent to the callback URL (from `Upstash-Callback-Forward-*`). */
  readonly header: HeaderMap;
  /** Retries of the callback message; absent means the source message's own. */
  readonly retries?: number;
  readonly retryDelayExpression?: string;
  readonly timeoutMs?: number;
  /** From `Upstash-Callback-Flow-Control-*`: the callback message's own flow control. */
  readonly flowControl?: FlowControl;
};

/** A message as stored: everything needed to deliver it, on any attempt, in any runtime. */
export type Message = {
  readonly messageId: string;
  /** The exact URL requested, and the `sub` of the signature. */
  readonly url: string;
  readonly method: HttpMethod;
  /** Headers sent to the destination: `Content-Type` and the forwarded ones, canonical names. */
  readonly header: HeaderMap;
  readonly body: Uint8Array;
  readonly maxRetries: number;
  readonly retryDelayExpression?: string;
  readonly timeoutMs: number;
  /** When the first attempt is due (ms). */
  readonly notBefore: number;
  readonly createdAt: number;
  readonly callback?: CallbackSpec;
  readonly failureCallback?: CallbackSpec;
  readonly labels: readonly string[];
  readonly callerIp?: string;
  readonly deduplicationId?: string;
  readonly topicName?: string;
  readonly endpointName?: string;
  readonly queueName?: string;
  readonly scheduleId?: string;
  /** The key whose limits the message's attempts count against, with the limits it was published with. */
  readonly flowControl?: FlowControl;
  /** What the API shows hashed instead of as stored (`Upstash-Redact-Fields`). */
  readonly redaction?: Redaction;
  /** Set on callback messages: the message whose attempt they report. */
  readonly callbackFor?: { readonly sourceMessageId: string; readonly kind: CallbackKind };
  /** Set on the messages of an Upstash Workflow run (core/workflow). */
  readonly workflow?: WorkflowTag;
};

export type CallbackKind = 'callback' | 'failure-callback';

/** The states of QStash's message log (qstash-api.md §3.6); CANCELED with one L, as SDKs parse. */
export type MessageState =
  | 'CREATED'
  | 'ACTIVE'
  | 'RETRY'
  | 'ERROR'
  | 'DELIVERED'
  | 'FAILED'
  | 'CANCEL_REQUESTED'
  | 'CANCELED';

/** One entry of a message's event log, as `/v2/events` serves it. */
export type LogEvent = {
  readonly time: number;
  readonly messageId: string;
  readonly state: MessageState;
  readonly url: string;
  readonly error?: string;
  readonly nextDeliveryTime?: number;
  readonly responseStatus?: number;
  readonly responseHeader?: HeaderMap;
  /** Base64, as log entries carry bodies. */
  readonly responseBody?: string;
};

/** What a failed message leaves in the dead-letter queue besides the message itself. */
export type DeadLetter = {
  readonly dlqId: string;
  readonly messageId: string;
  readonly failedAt: number;
  /** 0 when no HTTP response was received (connection refused, timeout). */
  readonly responseStatus: number;
  readonly responseHeader: HeaderMap;
  readonly responseBody: Uint8Array;
  readonly error?: string;
};
