import { redactedValue } from '../../lambdas/core/redaction';
import { deadLetterView, logEntryView, messageView } from '../../lambdas/http/message-views';
import { makeMessage, T0 } from '../helpers/messages';

const encoder = new TextEncoder();

describe('http/message-views', () => {
  describe('messageView', () => {
    it('shows every field, with both callerIP and callerIp, labels and the deprecated label', () => {
      const message = makeMessage({
        messageId: 'msg_1',
        url: 'https://example.com/a',
        method: 'PUT',
        header: { 'Content-Type': ['text/plain'] },
        body: encoder.encode('héllo'),
        maxRetries: 2,
        retryDelayExpression: '1000 * retried',
        timeoutMs: 5_000,
        notBefore: T0 + 1,
        createdAt: T0,
        callback: { url: 'https://example.com/cb', method: 'POST', header: { 'X-A': ['1'] } },
        failureCallback: { url: 'https://example.com/fcb', method: 'POST', header: {} },
        labels: ['first', 'second'],
        callerIp: '10.1.2.3',
        topicName: 'orders',
        endpointName: 'primary',
        queueName: 'q',
        scheduleId: 'scd_1',
      });

      expect(messageView(message)).toEqual({
        messageId: 'msg_1',
        url: 'https://example.com/a',
        topicName: 'orders',
        endpointName: 'primary',
        method: 'PUT',
        header: { 'Content-Type': ['text/plain'] },
        body: 'héllo',
        maxRetries: 2,
        retryDelayExpression: '1000 * retried',
        notBefore: T0 + 1,
        createdAt: T0,
        callback: 'https://example.com/cb',
        failureCallback: 'https://example.com/fcb',
        callbackHeader: { 'X-A': ['1'] },
        failureCallbackHeader: {},
        queueName: 'q',
        scheduleId: 'scd_1',
        callerIP: '10.1.2.3',
        callerIp: '10.1.2.3',
        labels: ['first', 'second'],
        label: 'first',
        timeout: 5_000,
      });
    });

    it('puts a body that is not UTF-8 in bodyBase64, and omits an empty one', () => {
      const binary = messageView(makeMessage({ body: Uint8Array.from([0xff, 0x00, 0x80]) }));
      const empty = messageView(makeMessage({ body: new Uint8Array() }));

      expect(binary).toMatchObject({ bodyBase64: '/wCA' });
      expect(binary).not.toHaveProperty('body');
      expect(empty).not.toHaveProperty('body');
      expect(empty).not.toHaveProperty('bodyBase64');
    });

    it('omits optional fields that are absent, and keeps labels an empty list', () => {
      const view = messageView(makeMessage());

      expect(view.labels).toEqual([]);
      for (const field of ['label', 'callerIP', 'callerIp', 'callback', 'topicName', 'queueName']) {
        expect(view).not.toHaveProperty(field);
      }
      expect(JSON.stringify(view)).not.toContain('null');
    });
  });

  describe('flow control and redaction', () => {
    const secret = makeMessage({
      messageId: 'msg_s',
      header: { Authorization: ['Bearer s3cret'], 'X-Trace': ['t1'] },
      body: encoder.encode('{"card":"4242"}'),
      callback: {
        url: 'https://example.com/cb',
        method: 'POST',
        header: { Authorization: ['cb'] },
      },
      flowControl: { key: 'llm', parallelism: 2, rate: 10, periodSec: 60 },
      redaction: { body: true, headers: ['Authorization'] },
    });

    it('echoes the flow control the message was published with, period in seconds', () => {
      expect(messageView(secret)).toMatchObject({
        flowControlKey: 'llm',
        parallelism: 2,
        rate: 10,
        period: 60,
      });
      expect(messageView(makeMessage())).not.toHaveProperty('flowControlKey');
    });

    it('shows redacted fields hashed in messages, dead letters and logs', () => {
      const hidden = {
        header: { Authorization: [redactedValue('Bearer s3cret')], 'X-Trace': ['t1'] },
        callbackHeader: { Authorization: [redactedValue('cb')] },
        body: redactedValue('{"card":"4242"}'),
      };
      const deadLetter = {
        dlqId: '1-0',
        messageId: 'msg_s',
        failedAt: T0,
        responseStatus: 500,
        responseHeader: {},
        responseBody: new Uint8Array(),
      };

      expect(messageView(secret)).toMatchObject(hidden);
      expect(deadLetterView({ message: secret, deadLetter })).toMatchObject(hidden);
      const log = logEntryView({
        event: { time: T0, messageId: 'msg_s', state: 'CREATED', url: secret.url },
        message: secret,
      });
      expect(log).toMatchObject({
        header: hidden.header,
        callbackHeaders: hidden.callbackHeader,
        body: Buffer.from(hidden.body).toString('base64'),
        flowControlKey: 'llm',
      });
      for (const view of [messageView(secret), log]) {
        expect(JSON.stringify(view)).not.toContain('s3cret');
        expect(JSON.stringify(view)).not.toContain('4242');
      }
    });
  });

  describe('deadLetterView', () => {
    it('adds dlqId, responseStatus (0 without a response), headers and body', () => {
      const view = deadLetterView({
        message: makeMessage({ messageId: 'msg_1' }),
        deadLetter: {
          dlqId: '5-0',
          messageId: 'msg_1',
          failedAt: T0,
          responseStatus: 0,
          responseHeader: {},
          responseBody: new Uint8Array(),
          error: 'connection refused',
        },
      });

      expect(view).toMatchObject({
        messageId: 'msg_1',
        dlqId: '5-0',
        responseStatus: 0,
        responseHeader: {},
      });
      expect(view).not.toHaveProperty('responseBody');
    });

    it('shows a response body as text, or as responseBodyBase64 when it is not UTF-8', () => {
      const entry = (responseBody: Uint8Array) => ({
        message: makeMessage(),
        deadLetter: {
          dlqId: '5-0',
          messageId: 'msg_test',
          failedAt: T0,
          responseStatus: 500,
          responseHeader: { 'Content-Type': ['text/plain'] },
          responseBody,
        },
      });

      expect(deadLetterView(entry(encoder.encode('down')))).toMatchObject({ responseBody: 'down' });
      expect(deadLetterView(entry(Uint8Array.from([0xfe])))).toMatchObject({
        responseBodyBase64: '/g==',
      });
    });
  });

  describe('logEntryView', () => {
    it('sends both names where the SDKs disagree, and bodies as base64', () => {
      const view = logEntryView({
        event: {
          time: T0,
          messageId: 'msg_1',
          state: 'ERROR',
          url: 'https://example.com/a',
          error: 'destination answered 500',
          responseStatus: 500,
          responseHeader: { 'X-B': ['2'] },
          responseBody: 'ZG93bg==',
        },
        message: makeMessage({
          messageId: 'msg_1',
          body: encoder.encode('hi'),
          retryDelayExpression: '500',
          labels: ['x'],
          callback: { url: 'https://example.com/cb', method: 'POST', header: { 'X-C': ['3'] } },
        }),
      });

      expect(view).toMatchObject({
        time: T0,
        messageId: 'msg_1',
        state: 'ERROR',
        url: 'https://example.com/a',
        error: 'destination answered 500',
        responseStatus: 500,
        responseHeaders: { 'X-B': ['2'] },
        responseHeader: { 'X-B': ['2'] },
        responseBody: 'ZG93bg==',
        header: { 'Content-Type': ['application/json'] },
        body: 'aGk=',
        method: 'POST',
        maxRetries: 3,
        timeout: 30_000,
        callback: 'https://example.com/cb',
        callbackHeaders: { 'X-C': ['3'] },
        retryDelayExpression: '500',
        retryDelayExpr: '500',
        labels: ['x'],
        label: 'x',
      });
    });

    it('shows the event alone when the message record is gone', () => {
      expect(
        logEntryView({
          event: { time: T0, messageId: 'msg_1', state: 'CANCELED', url: 'https://e/' },
        }),
      ).toEqual({ time: T0, messageId: 'msg_1', state: 'CANCELED', url: 'https://e/' });
    });
  });
});
