import type { QueueEntry } from '../../../lambdas/adapters/aws/sqs-entries';
import {
  decodeEntry,
  encodeAttempt,
  encodeEntry,
  encodeReconcileBody,
  MAX_ENTRY_BYTES,
} from '../../../lambdas/adapters/aws/sqs-entries';
import { makeMessage } from '../../helpers/messages';

/** Every character SQS refuses in a message body (aws-facts §1). */
const REFUSED_BY_SQS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

describe('Module: sqs-entries', () => {
  it('carries a whole message and what its attempt needs, and reads it back', () => {
    const message = makeMessage({
      messageId: 'msg_1',
      labels: ['a'],
      callbackFor: { sourceMessageId: 'msg_0', kind: 'callback' },
    });
    const entry: QueueEntry = {
      kind: 'attempt',
      messageId: 'msg_1',
      message,
      retried: 2,
      sentBy: 'token',
      source: { messageId: 'msg_0', retried: 1 },
      fifo: 'q1',
      recorded: true,
      redrives: 1,
    };

    const decoded = decodeEntry(encodeEntry(entry));

    expect({ ...decoded, message: { ...message, body: Array.from(message.body) } }).toEqual({
      ...entry,
      message: { ...message, body: Array.from(message.body) },
    });
    expect(Buffer.from((decoded as { message: { body: Uint8Array } }).message.body)).toEqual(
      Buffer.from(message.body),
    );
  });

  it('keeps a binary body byte for byte, and text SQS refuses as escapes', () => {
    const binary = Uint8Array.from({ length: 256 }, (_, index) => index);
    const text = new TextEncoder().encode('null\u0000 nonchar\uFFFF\uFFFE bell\u0007 é 😀');

    for (const body of [binary, text]) {
      const encoded = encodeEntry({
        kind: 'attempt',
        messageId: 'msg_1',
        message: makeMessage({ messageId: 'msg_1', body }),
        retried: 0,
      });
      const decoded = decodeEntry(encoded) as { message: { body: Uint8Array } };

      expect(REFUSED_BY_SQS.test(encoded)).toBe(false);
      expect(Array.from(decoded.message.body)).toEqual(Array.from(body));
    }
  });

  it('refers to a message too large for an entry instead of carrying it', () => {
    const message = makeMessage({ messageId: 'msg_1', body: new Uint8Array(MAX_ENTRY_BYTES) });

    expect(
      encodeAttempt({ kind: 'attempt', messageId: 'msg_1', message, retried: 0 }),
    ).toBeUndefined();
    expect(encodeAttempt({ kind: 'attempt', messageId: 'msg_1', retried: 0 })).toBe(
      '{"attempt":{"id":"msg_1","n":0}}',
    );
  });

  it('reads the bodies EventBridge Scheduler sends: wakes, ticks and the reconcile pass', () => {
    expect(decodeEntry('{"messageId":"msg_1"}')).toEqual({ kind: 'wake', messageId: 'msg_1' });
    expect(decodeEntry('{"messageId":"msg_1","sentBy":"t"}')).toEqual({
      kind: 'wake',
      messageId: 'msg_1',
      sentBy: 't',
    });
    expect(decodeEntry('{"scheduleId":"scd_1","tick":"2022-03-22T18:59:43Z"}')).toEqual({
      kind: 'tick',
      scheduleId: 'scd_1',
      tickTime: Date.parse('2022-03-22T18:59:43Z'),
    });
    expect(
      decodeEntry(encodeReconcileBody().replace('<aws.scheduler.scheduled-time>', 'now')),
    ).toEqual({ kind: 'reconcile' });
    expect(decodeEntry(encodeEntry({ kind: 'pump', queue: 'q1', redrives: 2 }))).toEqual({
      kind: 'pump',
      queue: 'q1',
      redrives: 2,
    });
    expect(encodeEntry({ kind: 'flow', key: 'llm' })).toBe('{"flow":"llm"}');
    expect(decodeEntry(encodeEntry({ kind: 'flow', key: 'llm', redrives: 1 }))).toEqual({
      kind: 'flow',
      key: 'llm',
      redrives: 1,
    });
  });

  it.each([
    ['not JSON', 'hello'],
    ['an unfilled tick template', '{"scheduleId":"scd_1","tick":"<aws.scheduler.scheduled-time>"}'],
    ['a tick without a time', '{"scheduleId":"scd_1"}'],
    ['an empty id', '{"messageId":""}'],
    ['an empty flow-control key', '{"flow":""}'],
    ['an attempt without an attempt number', '{"attempt":{"id":"msg_1"}}'],
    ['nothing it knows', '{"foo":1}'],
  ])('refuses %s as malformed', (_, body) => {
    expect(() => decodeEntry(body)).toThrow(/not a sqstash queue entry/);
  });
});
