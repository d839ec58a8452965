import { isUtf8 } from 'node:buffer';
import type { LogEvent } from '../core/message';
import type { MessageStory, MessageSummary } from '../core/message-overview';
import { redactBody } from '../core/redaction';
import type { Json } from './message-views';
import { defined, messageView } from './message-views';

/**
 * The console's JSON: message rows and one message's story. Bodies come as excerpts (the console
 * shows them, it does not need 1 MiB of one), named so that nobody takes them for the whole body.
 */

/** Bytes of a message body shown; a response body in a timeline gets less. */
const BODY_EXCERPT_BYTES = 16 * 1024;
const RESPONSE_EXCERPT_BYTES = 2 * 1024;

/** `{excerpt, bytes, truncated}` for UTF-8 text; `{bytes, binary: true}` otherwise. */
function excerptOf(bytes: Uint8Array, limit: number): Json {
  if (bytes.byteLength === 0) return { bytes: 0 };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A cut may fall inside a character: the check is on whole bytes, the cut decoded leniently.
  if (!isUtf8(buffer)) return { bytes: bytes.byteLength, binary: true };
  return {
    excerpt: buffer.toString('utf8', 0, Math.min(limit, buffer.byteLength)),
    bytes: bytes.byteLength,
    truncated: bytes.byteLength > limit,
  };
}

export function messageSummaryView(summary: MessageSummary): Json {
  const { message, latest, lastOutcome } = summary;
  return defined({
    messageId: summary.messageId,
    url: message?.url ?? latest.url,
    method: message?.method,
    createdAt: message?.createdAt,
    labels: message?.labels,
    queueName: message?.queueName,
    scheduleId: message?.scheduleId,
    topicName: message?.topicName,
    callbackFor: message?.callbackFor,
    state: latest.state,
    inFlight: summary.inFlight,
    updatedAt: latest.time,
    nextDeliveryTime: latest.nextDeliveryTime,
    responseStatus: lastOutcome?.responseStatus,
    error: lastOutcome?.error,
  });
}

function eventView(event: LogEvent): Json {
  return defined({
    time: event.time,
    state: event.state,
    error: event.error,
    nextDeliveryTime: event.nextDeliveryTime,
    responseStatus: event.responseStatus,
    responseHeader: event.responseHeader,
    responseBody:
      event.responseBody === undefined
        ? undefined
        : excerptOf(Buffer.from(event.responseBody, 'base64'), RESPONSE_EXCERPT_BYTES),
  });
}

export function messageStoryView(story: MessageStory): Json {
  const { message, deadLetter } = story;
  const { body: _body, bodyBase64: _bodyBase64, ...request } = message ? messageView(message) : {};
  return defined({
    messageId: story.messageId,
    request: message && {
      ...request,
      callbackFor: message.callbackFor,
      body: excerptOf(redactBody(message.body, message.redaction), BODY_EXCERPT_BYTES),
    },
    state: story.events[story.events.length - 1]?.state,
    inFlight: story.inFlight,
    events: story.events.map(eventView),
    deadLetter: deadLetter && {
      dlqId: deadLetter.dlqId,
      failedAt: deadLetter.failedAt,
      responseStatus: deadLetter.responseStatus,
    },
    callbacks: story.callbacks.map(messageSummaryView),
  });
}
