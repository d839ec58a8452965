import { Client } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import type { RawAnswer } from '../helpers/raw-api';
import { readAnswer } from '../helpers/raw-api';
import type { Responder } from '../helpers/receiver';
import { TestReceiver } from '../helpers/receiver';
import { base64, expectNoMoreRequests } from '../helpers/signed-delivery';

describe('messages, DLQ and logs with the official SDK', () => {
  let server: TestServer;
  let client: Client;
  const receivers: TestReceiver[] = [];
  const startReceiver = async (responder?: Responder) => {
    const receiver = await TestReceiver.start(responder);
    receivers.push(receiver);
    return receiver;
  };
  /** The API called with plain fetch, for what the SDK does not expose (status, bodies on DELETE). */
  const api = async (
    method: string,
    path: string,
    options: { body?: string; headers?: Record<string, string> } = {},
  ): Promise<RawAnswer> =>
    readAnswer(
      await fetch(`${server.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${DEV_TOKEN}`, ...options.headers },
        body: options.body,
      }),
    );
  /** A message's log states, oldest first (the API answers latest first). */
  const statesOf = async (messageId: string): Promise<string[]> => {
    const { logs } = await client.logs({ filter: { messageId } });
    return logs.map((log) => log.state).reverse();
  };
  let labelCount = 0;
  const uniqueLabel = () => `t${++labelCount}-${Date.now()}`;

  beforeAll(async () => {
    server = await startTestServer();
    client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
  });
  afterAll(async () => {
    await stopTestServer(server);
  });

  describe('messages', () => {
    it('gets a pending message with its configuration, then 404s it once canceled', async () => {
      const receiver = await startReceiver();
      const url = `${receiver.url}/later`;
      const { messageId } = await client.publish({
        url,
        body: 'hello later',
        delay: 3600,
        retries: 2,
        retryDelay: '1000 * retried',
        label: ['alpha', 'beta'],
        headers: { 'X-Tenant': 'acme', 'Content-Type': 'text/plain' },
        callback: `${receiver.url}/cb`,
      });

      const message = await client.messages.get(messageId);
      const cancelled = await client.messages.cancel(messageId);

      expect(message).toMatchObject({
        messageId,
        url,
        method: 'POST',
        body: 'hello later',
        maxRetries: 2,
        retryDelayExpression: '1000 * retried',
        callback: `${receiver.url}/cb`,
        labels: ['alpha', 'beta'],
        label: 'alpha',
        callerIp: '127.0.0.1',
      });
      expect(message.header).toMatchObject({
        'X-Tenant': ['acme'],
        'Content-Type': ['text/plain'],
      });
      expect(message.notBefore! - message.createdAt).toBeGreaterThanOrEqual(3_599_000);
      expect((message as unknown as { callerIP: string }).callerIP).toBe('127.0.0.1');
      expect(cancelled).toEqual({ cancelled: 1 });
      await expect(client.messages.get(messageId)).rejects.toThrow(/not found/);
      await expect(client.messages.cancel(messageId)).rejects.toThrow(/not found/);
      expect(await statesOf(messageId)).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
    });

    it('404s a message once it was delivered', async () => {
      const receiver = await startReceiver();
      const { messageId } = await client.publish({ url: `${receiver.url}/now`, body: 'x' });

      await receiver.waitForRequests(1);

      await eventually(async () => {
        await expect(client.messages.get(messageId)).rejects.toThrow(/not found/);
      });
      const missing = await api('GET', `/v2/messages/${messageId}`);
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ error: expect.stringContaining(messageId) });
    });

    it('never delivers a delayed message canceled before its time (messages.delete)', async () => {
      const receiver = await startReceiver();
      const canceled = await client.publish({
        url: `${receiver.url}/canceled`,
        body: 'no',
        delay: 1,
      });
      const control = await client.publish({
        url: `${receiver.url}/control`,
        body: 'yes',
        delay: 1,
      });

      await client.messages.delete(canceled.messageId);

      const [delivered] = await receiver.waitForRequests(1, 5_000);
      expect(delivered!.path).toBe('/control');
      expect(delivered!.headers['upstash-message-id']).toBe(control.messageId);
      await expectNoMoreRequests(receiver, 1, 500);
      expect(await statesOf(canceled.messageId)).toEqual([
        'CREATED',
        'CANCEL_REQUESTED',
        'CANCELED',
      ]);
    });

    it('cancels several by id, by filter, and by a JSON body (the Python SDK)', async () => {
      const receiver = await startReceiver();
      const label = uniqueLabel();
      const publish = (path: string, labels?: string[]) =>
        client.publish({ url: `${receiver.url}/${path}`, body: path, delay: 3600, label: labels });
      const [a, b, c, d, e] = [
        await publish('a'),
        await publish('b'),
        await publish('c', [label]),
        await publish('d', [label]),
        await publish('e'),
      ];

      const byIds = await client.messages.cancel([a!.messageId, b!.messageId, 'msg_unknown']);
      const byFilter = await client.messages.cancel({ filter: { label } });
      const byBody = await api('DELETE', '/v2/messages', {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ messageIds: [e!.messageId] }),
      });

      expect(byIds).toEqual({ cancelled: 2 });
      expect(byFilter).toEqual({ cancelled: 2 });
      expect(byBody).toMatchObject({ status: 200, json: { cancelled: 1 } });
      for (const { messageId } of [a, b, c, d, e]) {
        await expect(client.messages.get(messageId!)).rejects.toThrow(/not found/);
      }
    });

    it('cancels at most count messages, the earliest first, with OR within each filter', async () => {
      const receiver = await startReceiver();
      const [red, blue] = [uniqueLabel(), uniqueLabel()];
      const publish = (path: string, label: string) =>
        client.publish({ url: `${receiver.url}/${path}`, body: path, delay: 3600, label });
      const first = await publish('1', red);
      const second = await publish('2', blue);
      const third = await publish('3', red);

      expect(await client.messages.cancel({ filter: { label: [red, blue] }, count: 1 })).toEqual({
        cancelled: 1,
      });
      await expect(client.messages.get(first.messageId)).rejects.toThrow(/not found/);
      expect((await client.messages.get(second.messageId)).messageId).toBe(second.messageId);

      expect(await client.messages.cancel({ filter: { label: [red, blue] } })).toEqual({
        cancelled: 2,
      });
      await expect(client.messages.get(third.messageId)).rejects.toThrow(/not found/);
    });

    it('cancels every pending message with { all: true }', async () => {
      const receiver = await startReceiver();
      const first = await client.publish({ url: `${receiver.url}/1`, body: '1', delay: 3600 });
      const second = await client.publish({ url: `${receiver.url}/2`, body: '2', delay: 3600 });

      const { cancelled } = await client.messages.cancel({ all: true });

      expect(cancelled).toBeGreaterThanOrEqual(2);
      await expect(client.messages.get(first.messageId)).rejects.toThrow(/not found/);
      await expect(client.messages.get(second.messageId)).rejects.toThrow(/not found/);
    });

    it('does not retry a message canceled while its attempt is in flight; it ends CANCELED', async () => {
      const receiver = await startReceiver(() => ({
        status: 500,
        body: 'slow failure',
        delayMs: 400,
      }));
      const { messageId } = await client.publish({
        url: `${receiver.url}/slow`,
        body: 'x',
        retries: 3,
        retryDelay: '50',
      });
      await receiver.waitForRequests(1);

      expect(await client.messages.cancel(messageId)).toEqual({ cancelled: 1 });

      const states = await eventually(async () => {
        const logged = await statesOf(messageId);
        expect(logged.slice(-2)).toEqual(['ERROR', 'CANCELED']);
        return logged;
      });
      // The attempt's ACTIVE is stamped with its start, which may fall in the cancel's millisecond.
      expect([...states].sort()).toEqual(
        ['ACTIVE', 'CANCELED', 'CANCEL_REQUESTED', 'CREATED', 'ERROR'].sort(),
      );
      await expectNoMoreRequests(receiver, 1, 500);
      const dlq = await client.dlq.listMessages({ filter: { messageId } });
      expect(dlq.messages).toEqual([]);
    });

    it('refuses a bulk cancel with an unknown filter, rather than cancel everything', async () => {
      const answer = await api('DELETE', '/v2/messages?topic=orders');

      expect(answer.status).toBe(400);
      expect(answer.json).toEqual({ error: expect.stringContaining('"topic"') });
    });
  });

  describe('DLQ', () => {
    /** Publishes to a receiver that fails, with no retries, and waits for the dead letters. */
    const deadLetters = async (receiver: TestReceiver, label: string, paths: string[]) => {
      const messageIds: string[] = [];
      for (const path of paths) {
        const published = await client.publish({
          url: `${receiver.url}/${path}`,
          body: `body of ${path}`,
          retries: 0,
          label,
        });
        messageIds.push(published.messageId);
      }
      return eventually(async () => {
        const { messages } = await client.dlq.listMessages({ filter: { label } });
        expect(messages).toHaveLength(paths.length);
        return { messageIds, messages };
      });
    };

    it('lists a failed message with its last response, then retries it once the receiver recovers', async () => {
      const receiver = await startReceiver(() => ({
        status: 500,
        headers: { 'X-Reason': 'maintenance' },
        body: 'down for maintenance',
      }));
      const label = uniqueLabel();
      const { messageIds, messages } = await deadLetters(receiver, label, ['orders']);
      const [entry] = messages;

      expect(entry).toMatchObject({
        messageId: messageIds[0],
        url: `${receiver.url}/orders`,
        method: 'POST',
        body: 'body of orders',
        maxRetries: 0,
        labels: [label],
        responseStatus: 500,
        responseBody: 'down for maintenance',
      });
      expect(entry!.dlqId).toMatch(/^\d+-\d+$/);
      expect(entry!.responseHeader).toMatchObject({ 'X-Reason': ['maintenance'] });
      expect(await statesOf(messageIds[0]!)).toEqual(['CREATED', 'ACTIVE', 'ERROR', 'FAILED']);

      receiver.respondWith(() => ({ status: 200 }));
      const retried = await client.dlq.retry(entry!.dlqId);

      expect(retried.responses).toHaveLength(1);
      expect(retried.cursor).toBeUndefined();
      const newId = retried.responses[0]!.messageId;
      expect(newId).not.toBe(messageIds[0]);
      const [redelivered] = (await receiver.waitForRequests(2)).slice(1);
      expect(redelivered!.path).toBe('/orders');
      expect(redelivered!.body.toString()).toBe('body of orders');
      expect(redelivered!.headers['upstash-message-id']).toBe(newId);
      expect((await client.dlq.listMessages({ filter: { label } })).messages).toEqual([]);
      await expect(client.dlq.delete(entry!.dlqId)).rejects.toThrow(/not found/);
      await eventually(async () => {
        expect(await statesOf(newId)).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
      });
    });

    it('retries with overrides from the request headers, answering 201 on both routes', async () => {
      const receiver = await startReceiver(() => ({ status: 503 }));
      const label = uniqueLabel();
      const { messages } = await deadLetters(receiver, label, ['one', 'two']);
      const [first, second] = messages;

      const bulk = await api('POST', `/v2/dlq/retry?dlqIds=${first!.dlqId}`, {
        headers: {
          'Upstash-Retries': '2',
          'Upstash-Retry-Delay': '20',
          'Upstash-Forward-X-Retry': 'yes',
        },
      });
      const single = await api('POST', `/v2/dlq/retry/${second!.dlqId}`);
      const invalid = await api('POST', '/v2/dlq/retry?dlqIds=1-0', {
        headers: { 'Upstash-Retries': 'many' },
      });
      const missing = await api('POST', `/v2/dlq/retry?dlqIds=${first!.dlqId}`);

      expect(bulk).toMatchObject({
        status: 201,
        json: { responses: [{ messageId: expect.any(String) }] },
      });
      expect(single).toMatchObject({ status: 201, json: { messageId: expect.any(String) } });
      expect(invalid.status).toBe(400);
      expect(invalid.json).toEqual({ error: expect.stringContaining('Upstash-Retries') });
      expect(missing.status).toBe(404);
      // The overrides give the retried message 2 quick retries: three attempts in all.
      const retriedId = (bulk.json as { responses: { messageId: string }[] }).responses[0]!
        .messageId;
      await eventually(async () => {
        const attempts = receiver.requests.filter(
          (request) => request.headers['upstash-message-id'] === retriedId,
        );
        expect(attempts.map((request) => request.headers['upstash-retried'])).toEqual([
          '0',
          '1',
          '2',
        ]);
        expect(attempts[0]!.headers['x-retry']).toBe('yes');
      });
    });

    it('filters and pages the DLQ with a cursor, never skipping or repeating', async () => {
      const receiver = await startReceiver((request) => ({
        status: request.path.startsWith('/gone') ? 404 : 500,
      }));
      const label = uniqueLabel();
      const { messageIds } = await deadLetters(receiver, label, [
        'a',
        'gone-b',
        'c',
        'gone-d',
        'e',
      ]);

      const seen: string[] = [];
      const pageSizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.dlq.listMessages({ filter: { label }, count: 2, cursor });
        pageSizes.push(page.messages.length);
        seen.push(...page.messages.map((message) => message.messageId));
        cursor = page.cursor;
      } while (cursor && pageSizes.length < 10);
      const all = await client.dlq.listMessages({ filter: { label } });
      const gone = await client.dlq.listMessages({ filter: { label, responseStatus: 404 } });
      const byUrl = await client.dlq.listMessages({ filter: { url: `${receiver.url}/c` } });
      const earliest = await api('GET', `/v2/dlq?label=${label}&order=earliestFirst&count=1`);

      expect(pageSizes).toEqual([2, 2, 1]);
      expect(seen).toEqual(all.messages.map((message) => message.messageId));
      expect([...seen].sort()).toEqual([...messageIds].sort());
      expect(gone.messages.map((m) => m.url).sort()).toEqual([
        `${receiver.url}/gone-b`,
        `${receiver.url}/gone-d`,
      ]);
      expect(gone.cursor).toBeUndefined();
      expect(byUrl.messages.map((m) => m.messageId)).toEqual([messageIds[2]]);
      // Latest first by default, so the earliest is the last of the full list.
      expect((earliest.json as { messages: { messageId: string }[] }).messages[0]!.messageId).toBe(
        seen.at(-1),
      );
      expect(earliest.json).toHaveProperty('cursor');
    });

    it('deletes one entry (404 once gone) and several at once', async () => {
      const receiver = await startReceiver(() => ({ status: 500 }));
      const label = uniqueLabel();
      const { messages } = await deadLetters(receiver, label, ['a', 'b', 'c', 'd']);
      const [a, b, c, d] = messages.map((message) => message.dlqId);

      await client.dlq.delete(a!);
      const deleted = await client.dlq.delete([b!, c!, 'nope-0']);
      const getGone = await api('GET', `/v2/dlq/${a}`);
      const getKept = await api('GET', `/v2/dlq/${d}`);
      const deleteGone = await api('DELETE', `/v2/dlq/${a}`);
      const byBody = await api('DELETE', '/v2/dlq', {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ dlqIds: [d] }),
      });

      expect(deleted).toEqual({ deleted: 2 });
      expect(getGone.status).toBe(404);
      expect(getKept).toMatchObject({ status: 200, json: { dlqId: d, responseStatus: 500 } });
      expect(deleteGone.status).toBe(404);
      expect(byBody).toMatchObject({ status: 200, json: { deleted: 1 } });
      expect((await client.dlq.listMessages({ filter: { label } })).messages).toEqual([]);
    });

    it('records a dead letter without a response with responseStatus 0', async () => {
      const receiver = await startReceiver();
      const deadUrl = `${receiver.url}/unreachable`;
      await receiver.stop();
      const label = uniqueLabel();
      await client.publish({ url: deadUrl, body: 'x', retries: 0, label });

      const entry = await eventually(async () => {
        const { messages } = await client.dlq.listMessages({ filter: { label } });
        expect(messages).toHaveLength(1);
        return messages[0]!;
      });

      expect(entry.responseStatus).toBe(0);
      expect(entry.responseHeader).toEqual({});
      expect(entry).not.toHaveProperty('responseBody');
    });
  });

  describe('logs', () => {
    it('shows CREATED, ACTIVE, DELIVERED with the configuration echoed, filtered by message and state', async () => {
      const receiver = await startReceiver();
      const url = `${receiver.url}/logged`;
      const { messageId } = await client.publish({
        url,
        body: 'log me',
        retries: 1,
        headers: { 'X-Tenant': 'acme' },
      });
      await receiver.waitForRequests(1);

      const { logs, events } = await eventually(async () => {
        const result = await client.logs({ messageIds: [messageId] });
        expect(result.logs.map((log) => log.state)).toEqual(['DELIVERED', 'ACTIVE', 'CREATED']);
        return result;
      });
      const delivered = await client.logs({ filter: { state: 'DELIVERED', url } });
      const viaEvents = await client.events({ filter: { messageId } });

      expect(events).toEqual(logs);
      for (const log of logs) {
        expect(log).toMatchObject({ messageId, url, body: base64('log me') });
        expect(log.header).toMatchObject({ 'X-Tenant': ['acme'] });
        expect(typeof log.time).toBe('number');
      }
      expect(logs[0]).toMatchObject({ responseStatus: 200, method: 'POST', maxRetries: 1 });
      expect(delivered.logs.map((log) => [log.messageId, log.state])).toEqual([
        [messageId, 'DELIVERED'],
      ]);
      expect(viaEvents.logs).toEqual(logs);
    });

    it('shows ERROR, RETRY and FAILED for a failing message, and IN_PROGRESS selects the middle', async () => {
      const receiver = await startReceiver(() => ({ status: 502, body: 'bad gateway' }));
      const url = `${receiver.url}/failing`;
      const { messageId } = await client.publish({ url, body: 'x', retries: 1, retryDelay: '20' });

      await eventually(async () => {
        expect(await statesOf(messageId)).toEqual([
          'CREATED',
          'ACTIVE',
          'ERROR',
          'RETRY',
          'ACTIVE',
          'ERROR',
          'FAILED',
        ]);
      });
      const inProgress = await client.logs({ filter: { url, state: 'IN_PROGRESS' } });
      const errors = await client.logs({ filter: { url, state: 'ERROR' } });

      expect(inProgress.logs.map((log) => log.state)).toEqual([
        'ERROR',
        'ACTIVE',
        'RETRY',
        'ERROR',
        'ACTIVE',
      ]);
      expect(errors.logs[0]).toMatchObject({
        responseStatus: 502,
        responseBody: base64('bad gateway'),
        error: expect.stringContaining('502'),
      });
      const retry = (await client.logs({ filter: { url, state: 'RETRY' } })).logs[0] as unknown as {
        nextDeliveryTime: number;
        time: number;
      };
      expect(retry.nextDeliveryTime).toBeGreaterThanOrEqual(retry.time + 20);
    });

    it('serves /v2/logs with a logs key, pages with a cursor, and refuses bad parameters', async () => {
      const receiver = await startReceiver();
      const url = `${receiver.url}/paged`;
      for (const n of [1, 2, 3]) await client.publish({ url, body: `m${n}`, delay: 3600 });

      const first = await api('GET', `/v2/logs?url=${encodeURIComponent(url)}&count=2`);
      const { cursor } = first.json as { cursor: string };
      const second = await client.logs({ filter: { url }, count: 2, cursor });
      const badCount = await api('GET', '/v2/events?count=5000');
      const badState = await api('GET', '/v2/events?state=DONE');
      const cancelledAlias = await api(
        'GET',
        `/v2/events?state=CANCELLED&url=${encodeURIComponent(url)}`,
      );

      expect(first.status).toBe(200);
      expect((first.json as { logs: unknown[] }).logs).toHaveLength(2);
      expect(first.json).not.toHaveProperty('events');
      expect(second.logs).toHaveLength(1);
      expect(second.cursor).toBeUndefined();
      expect(badCount).toMatchObject({
        status: 400,
        json: { error: expect.stringContaining('count') },
      });
      expect(badState).toMatchObject({
        status: 400,
        json: { error: expect.stringContaining('IN_PROGRESS') },
      });
      expect(cancelledAlias).toMatchObject({ status: 200, json: { events: [] } });
    });
  });
});
