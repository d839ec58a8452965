// Settlements, dead letters and events shaped as the core builds them, for store and core tests.
import type { DeadLetter, LogEvent, Message } from '../../lambdas/core/message';
import type { AttemptSettlement } from '../../lambdas/ports/message-store';
import { makeMessage, T0 } from './messages';

const encoder = new TextEncoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bodies compared as plain byte arrays, since adapters may hand back a Buffer or a Uint8Array. */
export function comparable(message: Message | undefined) {
  return message && { ...message, body: Array.from(message.body) };
}

export function event(
  message: Message,
  state: LogEvent['state'],
  time: number,
  extra: Partial<LogEvent> = {},
): LogEvent {
  return { time, messageId: message.messageId, state, url: message.url, ...extra };
}

export function deliveredSettlement(message: Message, time = T0 + 1): AttemptSettlement {
  return {
    message,
    retried: 0,
    outcome: { kind: 'delivered' },
    events: [
      event(message, 'ACTIVE', time),
      event(message, 'DELIVERED', time, { responseStatus: 200 }),
    ],
    callbacks: [],
  };
}

export function retrySettlement(message: Message, time = T0 + 1): AttemptSettlement {
  return {
    message,
    retried: 0,
    outcome: { kind: 'retry', retryAt: time + 1_000 },
    events: [
      event(message, 'ACTIVE', time),
      event(message, 'ERROR', time, { error: 'destination answered 500', responseStatus: 500 }),
      event(message, 'RETRY', time, { nextDeliveryTime: time + 1_000 }),
    ],
    callbacks: [],
  };
}

export function deadLetterOf(
  message: Message,
  dlqId: string,
  failedAt: number,
  overrides: Partial<DeadLetter> = {},
): DeadLetter {
  return {
    dlqId,
    messageId: message.messageId,
    failedAt,
    responseStatus: 500,
    responseHeader: { 'Content-Type': ['text/plain'] },
    responseBody: bytes('boom'),
    error: 'destination answered 500: boom',
    ...overrides,
  };
}

export function failedSettlement(
  message: Message,
  deadLetter: DeadLetter,
  callbacks: Message[] = [],
): AttemptSettlement {
  return {
    message,
    retried: message.maxRetries,
    outcome: { kind: 'failed', deadLetter },
    events: [
      event(message, 'ACTIVE', deadLetter.failedAt),
      event(message, 'ERROR', deadLetter.failedAt, { error: deadLetter.error }),
      event(message, 'FAILED', deadLetter.failedAt, { error: deadLetter.error }),
    ],
    callbacks,
  };
}

/** A callback or failure-callback message reporting on `source`. */
export function callbackMessage(
  source: Message,
  messageId: string,
  kind: 'callback' | 'failure-callback',
): Message {
  return makeMessage({
    messageId,
    url: `https://example.com/${kind}`,
    notBefore: T0 + 1,
    createdAt: T0 + 1,
    callbackFor: { sourceMessageId: source.messageId, kind },
  });
}
