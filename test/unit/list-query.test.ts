import { BadRequestError } from '../../lambdas/core/errors';
import type { ApiRequest } from '../../lambdas/http/api-types';
import {
  parseDeadLetterBulkRequest,
  parseDeadLetterListQuery,
  parseLogQuery,
  parseMessageCancelRequest,
} from '../../lambdas/http/list-query';

function request(rawQuery: string, body = ''): ApiRequest {
  return {
    method: 'DELETE',
    path: '/v2/messages',
    rawQuery,
    headers: {},
    body: new TextEncoder().encode(body),
  };
}

function expect400(act: () => unknown, ...fragments: string[]): void {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(BadRequestError);
  for (const fragment of fragments) expect((thrown as Error).message).toContain(fragment);
}

describe('http/list-query', () => {
  describe('multi-valued filters', () => {
    it('takes repeated and comma-separated values alike, OR within a filter', () => {
      const { filter } = parseLogQuery(
        'label=a,b&label=c&topicName=t1&queueName=q1,q2&scheduleId=s&host=h:1&path=/p&callerIp=1.2.3.4',
      );

      expect(filter).toEqual({
        label: ['a', 'b', 'c'],
        topicName: ['t1'],
        queueName: ['q1', 'q2'],
        scheduleId: ['s'],
        host: ['h:1'],
        path: ['/p'],
        callerIp: ['1.2.3.4'],
      });
    });

    it('does not split url on commas, since a URL may hold one', () => {
      const { filter } = parseLogQuery(
        `url=${encodeURIComponent('https://a.example/x?list=1,2')}&url=https://b.example/`,
      );

      expect(filter.url).toEqual(['https://a.example/x?list=1,2', 'https://b.example/']);
    });

    it('merges messageId and messageIds, and accepts the deprecated callerIP', () => {
      const { filter } = parseLogQuery('messageId=msg_1&messageIds=msg_2,msg_3&callerIP=9.9.9.9');

      expect(filter).toEqual({ messageIds: ['msg_1', 'msg_2', 'msg_3'], callerIp: ['9.9.9.9'] });
    });

    it('refuses an empty value, which would otherwise select everything', () => {
      expect400(() => parseMessageCancelRequest(request('label=')), '"label"', 'empty value');
      expect400(() => parseMessageCancelRequest(request('topicName=a,')), '"topicName"');
    });

    it('reads dates as ms, inclusive bounds', () => {
      expect(parseLogQuery('fromDate=1700000000000&toDate=1700000000999').filter).toEqual({
        fromDate: 1_700_000_000_000,
        toDate: 1_700_000_000_999,
      });
    });

    it.each(['abc', '-5', '1.5', '2024-01-01'])('refuses fromDate=%s', (value) => {
      expect400(
        () => parseLogQuery(`fromDate=${value}`),
        `invalid fromDate "${value}"`,
        'milliseconds',
      );
    });
  });

  describe('count, order, cursor', () => {
    it('defaults to latestFirst, count 100 for logs and the DLQ', () => {
      expect(parseLogQuery('')).toEqual({ filter: {}, count: 100, order: 'latestFirst' });
      expect(parseDeadLetterListQuery('')).toEqual({
        filter: {},
        count: 100,
        order: 'latestFirst',
      });
    });

    it('takes order and cursor, and treats an empty cursor as none', () => {
      expect(parseLogQuery('order=earliestFirst&cursor=abc&count=1000')).toEqual({
        filter: {},
        count: 1000,
        order: 'earliestFirst',
        cursor: 'abc',
      });
      expect(parseDeadLetterListQuery('cursor=').cursor).toBeUndefined();
    });

    it.each<[string, () => unknown, string]>([
      ['logs count above 1000', () => parseLogQuery('count=1001'), 'from 1 to 1000'],
      ['DLQ count above 100', () => parseDeadLetterListQuery('count=101'), 'from 1 to 100'],
      ['count 0', () => parseLogQuery('count=0'), 'from 1 to 1000'],
      ['count not a number', () => parseLogQuery('count=ten'), 'invalid count "ten"'],
      [
        'cancel count above 500',
        () => parseMessageCancelRequest(request('count=501')),
        'from 1 to 500',
      ],
    ])('refuses %s', (_, act, fragment) => {
      expect400(act, 'count', fragment);
    });

    it('refuses an unknown order, naming the allowed values', () => {
      expect400(
        () => parseDeadLetterListQuery('order=newest'),
        'invalid order "newest"',
        'earliestFirst, latestFirst',
      );
    });

    it('refuses a single-valued parameter given twice', () => {
      expect400(() => parseLogQuery('count=1&count=2'), '"count" is given 2 times');
    });
  });

  describe('state', () => {
    it('expands IN_PROGRESS and accepts the CANCELLED spelling, any case', () => {
      expect(parseLogQuery('state=IN_PROGRESS').filter.states).toEqual([
        'ACTIVE',
        'RETRY',
        'ERROR',
      ]);
      expect(parseLogQuery('state=CANCELLED').filter.states).toEqual(['CANCELED']);
      expect(parseLogQuery('state=delivered,FAILED').filter.states).toEqual([
        'DELIVERED',
        'FAILED',
      ]);
    });

    it('refuses an unknown state, naming the allowed values', () => {
      expect400(
        () => parseLogQuery('state=DONE'),
        'invalid state "DONE"',
        'CREATED',
        'IN_PROGRESS',
        'CANCELLED',
        'CANCEL_REQUESTED',
      );
    });
  });

  describe('DLQ parameters', () => {
    it('reads dlqIds and responseStatus', () => {
      expect(
        parseDeadLetterListQuery('dlqIds=1-0,2-0&responseStatus=500&responseStatus=0').filter,
      ).toEqual({
        dlqIds: ['1-0', '2-0'],
        responseStatus: [500, 0],
      });
    });

    it('refuses a status that is not a number', () => {
      expect400(
        () => parseDeadLetterListQuery('responseStatus=5xx'),
        'invalid responseStatus "5xx"',
      );
    });

    it('takes dlqIds from a JSON body on a bulk request', () => {
      expect(parseDeadLetterBulkRequest(request('', '{"dlqIds":["1-0","2-0"]}')).filter).toEqual({
        dlqIds: ['1-0', '2-0'],
      });
    });
  });

  describe('unknown parameters', () => {
    it('are ignored on reads, but refused on bulk actions, which they could otherwise widen', () => {
      expect(parseLogQuery('groupBy=x&api=y&qstash_token=t').filter).toEqual({});
      expect400(
        () => parseMessageCancelRequest(request('topic=orders')),
        'unknown query parameter "topic"',
        'topicName',
      );
      expect400(() => parseDeadLetterBulkRequest(request('state=FAILED')), '"state"');
      expect(parseMessageCancelRequest(request('api=x&qstash_token=t&count=100'))).toEqual({
        filter: {},
        count: 100,
      });
    });

    it('refuses state and cursor on a message cancel', () => {
      expect400(() => parseMessageCancelRequest(request('cursor=abc')), '"cursor"');
    });
  });

  describe('message cancel body', () => {
    it('takes messageIds from a JSON body (the Python SDK), over the query', () => {
      expect(parseMessageCancelRequest(request('label=x', '{"messageIds":["msg_1"]}'))).toEqual({
        filter: { label: ['x'], messageIds: ['msg_1'] },
      });
    });

    it('keeps an empty list as "none", not "all"', () => {
      expect(parseMessageCancelRequest(request('', '{"messageIds":[]}'))).toEqual({
        filter: { messageIds: [] },
      });
    });

    it.each([
      ['not JSON', 'messageIds=1', 'not valid JSON'],
      ['not an object', '["msg_1"]', '{"messageIds": ["..."]}'],
      ['ids that are not strings', '{"messageIds":[1]}', 'invalid "messageIds"'],
    ])('refuses a body that is %s', (_, body, fragment) => {
      expect400(() => parseMessageCancelRequest(request('', body)), fragment);
    });

    it('reads an empty body or one without ids as no ids', () => {
      expect(parseMessageCancelRequest(request('label=x', ''))).toEqual({
        filter: { label: ['x'] },
      });
      expect(parseMessageCancelRequest(request('', '{}'))).toEqual({ filter: {} });
    });

    it('reads count as the most to cancel, absent meaning all', () => {
      expect(parseMessageCancelRequest(request('label=x&count=1')).count).toBe(1);
      expect(parseMessageCancelRequest(request('label=x')).count).toBeUndefined();
      expect400(() => parseMessageCancelRequest(request('count=0')), 'count', '1 to 500');
      expect400(() => parseMessageCancelRequest(request('count=501')), 'count', '1 to 500');
    });
  });
});
