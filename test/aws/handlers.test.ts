import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { Receiver } from '@upstash/qstash';
import { decodeEntry } from '../../lambdas/adapters/aws/sqs-entries';
import { handler as apiHandler } from '../../lambdas/aws/handlers/api';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import { apiGatewayEvent, sqsEvent } from '../helpers/aws-events';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  fakeTheDate,
  resetAwsMocks,
  scanTable,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

const { token: TOKEN, keys: KEYS, queueArn: QUEUE_ARN } = DEPLOYED;
const { sqs, scheduler } = awsMocks;
const DAY_S = 86_400;
const MINUTE_MS = 60_000;

type Event = { state: string; messageId: string; error?: string; nextDeliveryTime?: number };

/** The message's events, read by id (consistent, no watermark). */
async function statesOf(messageId: string): Promise<string[]> {
  const { json } = await api<{ events: Event[] }>('GET', '/v2/events', {
    rawQueryString: `messageId=${messageId}&order=earliestFirst`,
  });
  return json!.events.map((event) => event.state);
}

describe('AWS functions in-process (dynalite, fake SQS, mocked Scheduler/Secrets, real receivers)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let queue: FakeSqs;
  const verifier = new Receiver({ currentSigningKey: KEYS.current, nextSigningKey: KEYS.next });

  const scan = () => scanTable(dynalite);
  const drain = (options: { until?: () => boolean; idleMs?: number; timeoutMs?: number } = {}) =>
    queue.drain({ delivery: deliveryHandler, deadLetter: deadLetterHandler, context, ...options });
  const publish = async (path: string, headers: Record<string, string> = {}, body = 'hello') => {
    const response = await api<{ messageId: string }>(
      'POST',
      `/v2/publish/${receiver.url}${path}`,
      {
        headers: { 'content-type': 'text/plain', ...headers },
        body,
      },
    );
    expect(response.status).toBe(200);
    return response.json!.messageId;
  };

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash');
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    queue = resetAwsMocks();
    receiver.respondWith(() => ({ status: 200 }));
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('refuses a request without the deployed token', async () => {
    const result = await apiHandler(
      apiGatewayEvent({ method: 'GET', rawPath: '/v2/keys' }),
      context,
    );

    expect(result.statusCode).toBe(401);
    expect(JSON.parse(result.body!)).toEqual({ error: expect.stringMatching(/missing token/) });
  });

  describe('the fast path', () => {
    it('publishes as one SQS entry carrying the whole message, with no DynamoDB write, and delivers it signed', async () => {
      const binary = Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d]);
      const before = (await scan()).length;

      const published = await apiHandler(
        apiGatewayEvent({
          method: 'POST',
          rawPath: `/v2/publish/${receiver.url}/hook`,
          rawQueryString: 'tenant=a',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/octet-stream',
            'upstash-forward-x-tenant': 'a',
          },
          body: binary,
          base64: true,
        }),
        context,
      );
      const { messageId } = JSON.parse(published.body!) as { messageId: string };

      // Published: one entry, the message in it, nothing in DynamoDB, not visible yet.
      expect(published.statusCode).toBe(200);
      expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
      expect(queue.sent.map(({ body }) => decodeEntry(body))).toEqual([
        expect.objectContaining({ kind: 'attempt', messageId, retried: 0 }),
      ]);
      expect((await scan()).length).toBe(before);
      expect((await api('GET', `/v2/messages/${messageId}`)).status).toBe(404);

      await drain();
      const [request] = await receiver.waitForRequests(1);

      expect(request!.path).toBe('/hook?tenant=a');
      expect(request!.headers['x-tenant']).toBe('a');
      expect(Buffer.from(request!.body)).toEqual(Buffer.from(binary));
      await expect(
        verifier.verify({
          signature: String(request!.headers['upstash-signature']),
          body: request!.body.toString(),
          url: `${receiver.url}/hook?tenant=a`,
        }),
      ).resolves.toBe(true);
      // Its first outcome records it, CREATED event included: one item in DynamoDB.
      expect(await statesOf(messageId)).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
      const added = (await scan()).filter((item) => item.pk?.S === `MSG#${messageId}`);
      expect(added.map((item) => item.sk?.S)).toEqual(['LOG#0000']);
    });

    it('retries with a new delayed entry, and shows the message from its first outcome', async () => {
      receiver.respondWith((_request, index) => ({ status: index === 0 ? 503 : 200 }));
      receiver.requests.length = 0;
      const messageId = await publish('/flaky', {
        'upstash-retries': '2',
        'upstash-retry-delay': '1000',
      });

      await drain({ until: () => receiver.requests.length === 1 });
      await drain({ idleMs: 0 });

      // The retry is its own entry, delayed, naming the settlement that sent it.
      const retry = queue.sent
        .map(({ body, delaySeconds }) => ({ entry: decodeEntry(body), delaySeconds }))
        .at(-1)!;
      expect(retry.entry).toMatchObject({
        kind: 'attempt',
        messageId,
        retried: 1,
        sentBy: expect.any(String),
      });
      expect(retry.delaySeconds).toBe(1);
      expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
      // Retrying: visible, with its body, to messages.get and the log.
      const pending = await api<{ body: string }>('GET', `/v2/messages/${messageId}`);
      expect(pending.status).toBe(200);
      expect(pending.json!.body).toBe('hello');
      expect(await statesOf(messageId)).toEqual(['CREATED', 'ACTIVE', 'ERROR', 'RETRY']);

      await drain({ until: () => receiver.requests.length === 2 });
      await drain();

      expect(receiver.requests.map((request) => request.headers['upstash-retried'])).toEqual([
        '0',
        '1',
      ]);
      expect(await statesOf(messageId)).toEqual([
        'CREATED',
        'ACTIVE',
        'ERROR',
        'RETRY',
        'ACTIVE',
        'DELIVERED',
      ]);
      expect((await api('GET', `/v2/messages/${messageId}`)).status).toBe(404);
    });

    it('sends a batch and a URL group fan-out with SendMessageBatch, 10 entries per call', async () => {
      const elements = Array.from({ length: 23 }, (_, index) => ({
        destination: `${receiver.url}/batch/${index}`,
        body: `b${index}`,
      }));

      const response = await api<unknown[]>('POST', '/v2/batch', {
        body: JSON.stringify(elements),
        headers: { 'content-type': 'application/json' },
      });

      expect(response.status).toBe(200);
      expect(response.json).toHaveLength(23);
      expect(
        sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries!.length),
      ).toEqual([10, 10, 3]);
    });
  });

  it('delivers none of a fan-out whose publish died before it committed, all of one that did', async () => {
    fakeTheDate();
    const endpoints = Array.from({ length: 12 }, (_, index) => ({
      url: `${receiver.url}/fanout/${index}`,
    }));
    await api('POST', '/v2/topics/fanout/endpoints', { body: JSON.stringify({ endpoints }) });
    const seen = receiver.requests.length;
    const commits = async () =>
      (await scan()).filter((item) => item.pk?.S?.startsWith('PUB#')).length;
    const committedBefore = await commits();
    // Twelve entries are two SendMessageBatch calls: the second fails, the publish with it.
    queue.failNextSends(1, 1);

    const died = await api('POST', '/v2/publish/fanout', { body: 'all or none' });
    expect(died.status).toBe(500);
    expect(queue.queues.delivery).toHaveLength(10);
    // Its first ten wait for a commit that never comes, and are dropped once the publish could
    // not be running any more (the function's timeout and a margin: 100 s here).
    await drain();
    expect(queue.queues.delivery).toHaveLength(10);
    jest.setSystemTime(Date.now() + 101_000);
    await drain();

    expect(queue.queues.delivery).toEqual([]);
    expect(receiver.requests.length).toBe(seen);
    expect(await commits()).toBe(committedBefore);

    const committed = await api<unknown[]>('POST', '/v2/publish/fanout', { body: 'all' });
    await drain({ until: () => receiver.requests.length === seen + 12 });

    expect(committed.status).toBe(200);
    expect(committed.json).toHaveLength(12);
    expect(await commits()).toBe(committedBefore + 1);
  });

  describe('the slow path: a message delayed past 15 minutes', () => {
    it('is recorded, woken by EventBridge Scheduler before it is due, and delivered when due', async () => {
      fakeTheDate();
      const seen = receiver.requests.length;
      const messageId = await publish('/much-later', { 'upstash-delay': '2h' });

      // Recorded and visible; no entry yet, a one-time schedule instead.
      expect(queue.sent).toEqual([]);
      expect((await api('GET', `/v2/messages/${messageId}`)).status).toBe(200);
      const [call] = scheduler.commandCalls(CreateScheduleCommand);
      expect(call!.args[0].input).toMatchObject({
        GroupName: 'sqstash',
        ScheduleExpression: expect.stringMatching(/^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:00\)$/),
        ActionAfterCompletion: 'DELETE',
        Target: { Arn: QUEUE_ARN, Input: JSON.stringify({ messageId }) },
      });

      // The schedule fires up to two minutes early: the wake sends the entry with the rest.
      jest.setSystemTime(Date.now() + 2 * 60 * MINUTE_MS - 90_000);
      queue.put(call!.args[0].input.Target!.Input!);
      await drain();
      expect(receiver.requests.length).toBe(seen);
      const [woken] = queue.queues.delivery;
      expect(decodeEntry(woken!.body)).toMatchObject({
        kind: 'attempt',
        messageId,
        recorded: true,
      });
      // A second copy of the wake sends nothing more.
      queue.put(call!.args[0].input.Target!.Input!);
      await drain();
      expect(queue.queues.delivery).toHaveLength(1);

      jest.setSystemTime(Date.now() + 91_000);
      await drain();

      expect(receiver.requests.length).toBe(seen + 1);
      expect(await statesOf(messageId)).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
    });

    it('is canceled at once while it waits, and its wake then sends nothing', async () => {
      const messageId = await publish('/canceled-later', { 'upstash-delay': '1h' });
      const [call] = scheduler.commandCalls(CreateScheduleCommand);

      const cancel = await api('DELETE', `/v2/messages/${messageId}`);
      queue.put(call!.args[0].input.Target!.Input!);
      await drain();

      expect(cancel).toEqual({ status: 200, json: { cancelled: 1 } });
      expect(await statesOf(messageId)).toEqual(['CREATED', 'CANCEL_REQUESTED', 'CANCELED']);
      expect(queue.queues.delivery).toEqual([]);
    });
  });

  it('puts a ttl on every item it writes but the configuration of queues, groups and schedules', async () => {
    receiver.respondWith((request) => ({ status: request.path.startsWith('/down') ? 500 : 200 }));
    await publish('/ttl/fast');
    await publish('/ttl/dedup', { 'upstash-deduplication-id': 'ttl-dedup' });
    await publish('/ttl/later', { 'upstash-delay': '1h' });
    await publish('/down/retried', { 'upstash-retries': '1', 'upstash-retry-delay': '0' });
    await publish('/down/failed', {
      'upstash-retries': '0',
      'upstash-failure-callback': `${receiver.url}/ttl/failure-callback`,
    });
    await api('POST', `/v2/enqueue/ttl-queue/${receiver.url}/ttl/queued`, { body: 'q' });
    await api('POST', '/v2/topics/ttl-group/endpoints', {
      body: JSON.stringify({ endpoints: [{ url: `${receiver.url}/ttl/group` }] }),
    });
    await api('POST', `/v2/publish/ttl-group`, { body: 'g' });
    await drain();
    const now = Date.now() / 1000;

    const items = await scan();
    const configuration = (item: Record<string, AttributeValue>) =>
      item.pk?.S === 'QUEUES' ||
      item.pk?.S === 'URLGROUP' ||
      item.pk?.S === 'SCHEDULES' ||
      (item.pk?.S?.startsWith('QUEUE#') === true && item.sk?.S === 'STATE');
    const kinds = new Set(items.map((item) => item.pk!.S!.split('#')[0]));

    expect([...kinds].sort()).toEqual(
      expect.arrayContaining(['DEDUP', 'DIR', 'DLQ', 'DLQX', 'EVT', 'MSG', 'PEND', 'QUEUE']),
    );
    // Within the messages' partitions: records, outcomes and (from the slow path above) a wake mark.
    const partitionItems = new Set(items.map((item) => item.sk?.S?.split('#')[0]));
    expect([...partitionItems]).toEqual(expect.arrayContaining(['MSG', 'LOG', 'WAKE', 'POS']));
    for (const item of items.filter((candidate) => !configuration(candidate))) {
      const ttl = Number(item.ttl?.N);
      expect({ item: `${item.pk?.S} ${item.sk?.S}`, hasTtl: ttl > now }).toEqual({
        item: `${item.pk?.S} ${item.sk?.S}`,
        hasTtl: true,
      });
      // Retention (14 days) after it stops mattering; a dedup claim its 90-day window.
      expect(ttl).toBeLessThan(now + 400 * DAY_S);
    }
  });

  it('applies one settlement of an attempt: a second, under another lease, writes nothing and fires no callback', async () => {
    receiver.respondWith(() => ({ status: 200, delayMs: 50 }));
    const seen = receiver.requests.length;
    const messageId = await publish('/twice', {
      'upstash-callback': `${receiver.url}/twice-callback`,
    });
    const [record] = queue.receive();

    // SQS hands the same entry to two invocations at once (it may: at-least-once).
    await Promise.all([
      deliveryHandler(sqsEvent([record!]), context),
      deliveryHandler(sqsEvent([{ ...record!, receiptHandle: 'receipt-copy' }]), context),
    ]);
    await drain();

    const paths = receiver.requests.slice(seen).map((request) => request.path);
    expect(paths.filter((path) => path === '/twice')).toHaveLength(2);
    // The stale settlement's callback entry was sent, and dropped when received.
    const callbacks = queue.sent
      .map(({ body }) => decodeEntry(body))
      .filter((entry) => entry.kind === 'attempt' && entry.source);
    expect(callbacks).toHaveLength(2);
    expect(paths.filter((path) => path === '/twice-callback')).toHaveLength(1);
    expect(await statesOf(messageId)).toEqual(['CREATED', 'ACTIVE', 'DELIVERED']);
  });

  it('retries an entry within seconds when a call fails before its settlement commits, not after the visibility timeout', async () => {
    receiver.respondWith((request) => ({ status: request.path === '/fault' ? 500 : 200 }));
    const seen = receiver.requests.length;
    const messageId = await publish('/fault', {
      'upstash-retries': '1',
      'upstash-retry-delay': '0',
    });
    const [record] = queue.receive();
    // The settlement's SendMessageBatch (its retry entry) fails once.
    sqs.on(SendMessageBatchCommand).rejectsOnce(new Error('ServiceUnavailable'));

    const response = await deliveryHandler(sqsEvent([record!]), context);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record!.messageId }] });
    expect(
      sqs
        .commandCalls(ChangeMessageVisibilityCommand)
        .map((call) => call.args[0].input.VisibilityTimeout),
    ).toEqual([1]);
    // Back in a second, attempted again (at least once), and then settled as it should be.
    queue.install();
    await drain({ idleMs: 1_500, timeoutMs: 10_000 });
    expect(receiver.requests.slice(seen).map((request) => request.path)).toEqual([
      '/fault',
      '/fault',
      '/fault',
    ]);
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

  describe('dead letters', () => {
    it('dead-letters a message on its last failure and delivers its failure callback', async () => {
      receiver.respondWith((request) => ({
        status: request.path === '/down' ? 500 : 200,
        body: 'down',
      }));
      const messageId = await publish('/down', {
        'upstash-retries': '0',
        'upstash-failure-callback': `${receiver.url}/failed`,
      });

      await drain();

      const dlq = await api<{ messages: { messageId: string; responseStatus: number }[] }>(
        'GET',
        '/v2/dlq',
        {
          rawQueryString: `messageId=${messageId}`,
        },
      );
      expect(dlq.json!.messages).toEqual([
        expect.objectContaining({ messageId, responseStatus: 500 }),
      ]);
      const callback = receiver.requests.find((request) => request.path === '/failed');
      expect(JSON.parse(callback!.body.toString())).toMatchObject({
        sourceMessageId: messageId,
        status: 500,
      });
    });

    it('puts an entry SQS gave up on back in line three times, then dead-letters its message with the reason', async () => {
      const messageId = await publish('/poison');
      const [entry] = queue.queues.delivery.splice(0);

      for (let round = 0; round < 3; round += 1) {
        queue.queues['dead-letter'].push({
          ...entry!,
          body: queue.sent.at(-1)!.body,
          visibleAt: 0,
          receives: 0,
        });
        const [record] = queue.receive('dead-letter');
        expect(await deadLetterHandler(sqsEvent([record!]), context)).toEqual({
          batchItemFailures: [],
        });
        queue.queues['dead-letter'].length = 0;
        expect(decodeEntry(queue.sent.at(-1)!.body)).toMatchObject({
          messageId,
          redrives: round + 1,
        });
        queue.queues.delivery.length = 0;
      }
      queue.queues['dead-letter'].push({
        ...entry!,
        body: queue.sent.at(-1)!.body,
        visibleAt: 0,
        receives: 0,
      });
      const [last] = queue.receive('dead-letter');
      await deadLetterHandler(sqsEvent([last!]), context);

      const dlq = await api<{ messages: { messageId: string; responseStatus: number }[] }>(
        'GET',
        '/v2/dlq',
        {
          rawQueryString: `messageId=${messageId}`,
        },
      );
      expect(dlq.json!.messages).toEqual([
        expect.objectContaining({ messageId, responseStatus: 0 }),
      ]);
      const { json } = await api<{ events: Event[] }>('GET', '/v2/events', {
        rawQueryString: `messageId=${messageId}&state=FAILED`,
      });
      expect(json!.events).toEqual([
        expect.objectContaining({
          state: 'FAILED',
          error: expect.stringMatching(/after 4 rounds of receives/),
        }),
      ]);
    });
  });

  it('cancels a message under way by marking it: its next receive ends it CANCELED, unattempted', async () => {
    receiver.respondWith((request) => ({ status: request.path === '/mark' ? 500 : 200 }));
    const seen = receiver.requests.length;
    const messageId = await publish('/mark', {
      'upstash-retries': '3',
      'upstash-retry-delay': '0',
    });
    await drain({ until: () => receiver.requests.length === seen + 1 });

    // Retrying and due now: it may be under way, so the cancel marks it.
    const cancel = await api('DELETE', `/v2/messages/${messageId}`);
    await drain();

    expect(cancel.json).toEqual({ cancelled: 1 });
    expect(receiver.requests.length).toBe(seen + 1);
    expect(await statesOf(messageId)).toEqual([
      'CREATED',
      'ACTIVE',
      'ERROR',
      'RETRY',
      'CANCEL_REQUESTED',
      'CANCELED',
    ]);
  });
});
