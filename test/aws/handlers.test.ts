import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { Receiver } from '@upstash/qstash';
import type { SQSBatchResponse } from 'aws-lambda';
import { handler as apiHandler } from '../../lambdas/aws/handlers/api';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import { apiGatewayEvent, sqsEvent, sqsRecord } from '../helpers/aws-events';
import type { Dynalite } from '../helpers/dynalite';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

const { token: TOKEN, keys: KEYS, queueUrl: QUEUE_URL, queueArn: QUEUE_ARN } = DEPLOYED;
const { sqs, scheduler } = awsMocks;

/** The JSON bodies the functions sent to the delivery queue, oldest first. */
function sentEntries(): Array<{ messageId: string; delaySeconds: number | undefined }> {
  return sqs.commandCalls(SendMessageCommand).map((call) => ({
    messageId: (JSON.parse(call.args[0].input.MessageBody!) as { messageId: string }).messageId,
    delaySeconds: call.args[0].input.DelaySeconds,
  }));
}

async function deliver(messageId: string, receiveCount = 1): Promise<SQSBatchResponse> {
  const record = sqsRecord({
    body: JSON.stringify({ messageId }),
    sqsMessageId: `sqs-${messageId}-${receiveCount}`,
    receiveCount,
  });
  return deliveryHandler(sqsEvent([record]), context);
}

describe('Lambda handlers in-process (dynalite, mocked SQS/Scheduler/Secrets, real receivers)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  const verifier = new Receiver({ currentSigningKey: KEYS.current, nextSigningKey: KEYS.next });

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash');
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'sqs-sent' });
    sqs.on(ChangeMessageVisibilityCommand).resolves({});
    scheduler.reset();
    scheduler
      .on(CreateScheduleCommand)
      .resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/sqstash/x' });
    receiver.respondWith(() => ({ status: 200 }));
  });

  it('refuses a request without the deployed token', async () => {
    const result = await apiHandler(
      apiGatewayEvent({ method: 'GET', rawPath: '/v2/keys' }),
      context,
    );

    expect(result.statusCode).toBe(401);
    expect(JSON.parse(result.body!)).toEqual({ error: expect.stringMatching(/missing token/) });
  });

  it('publishes through API Gateway, queues the id, and delivers it signed from the SQS record', async () => {
    const binary = Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d]);
    const destination = `${receiver.url}/hook?tenant=a`;

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
    const response = await deliver(messageId);
    const [request] = await receiver.waitForRequests(1);

    expect(published.statusCode).toBe(200);
    expect(sentEntries()).toEqual([{ messageId, delaySeconds: 0 }]);
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input.QueueUrl).toBe(QUEUE_URL);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(request!.path).toBe('/hook?tenant=a');
    expect(request!.headers['x-tenant']).toBe('a');
    expect(Buffer.from(request!.body)).toEqual(Buffer.from(binary));
    await expect(
      verifier.verify({
        signature: String(request!.headers['upstash-signature']),
        body: request!.body.toString(),
        url: destination,
      }),
    ).resolves.toBe(true);
    expect((await api('GET', `/v2/messages/${messageId}`)).status).toBe(404);
  });

  it('retries by making the same SQS entry visible again when due, counting attempts itself', async () => {
    receiver.respondWith((request) => ({ status: request.path === '/flaky' ? 503 : 200 }));
    const seenBefore = receiver.requests.length;
    const { json } = await api('POST', `/v2/publish/${receiver.url}/flaky`, {
      headers: { 'upstash-retries': '2', 'upstash-retry-delay': '5000' },
    });
    const messageId = String(json!.messageId);

    const first = await deliver(messageId, 1);
    // SQS hands the entry over again before its time (a duplicate receive): it waits, unattempted.
    const early = await deliver(messageId, 2);

    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: `sqs-${messageId}-1` }] });
    expect(early).toEqual({ batchItemFailures: [{ itemIdentifier: `sqs-${messageId}-2` }] });
    const visibility = sqs
      .commandCalls(ChangeMessageVisibilityCommand)
      .map((call) => call.args[0].input);
    expect(visibility[0]).toEqual({
      QueueUrl: QUEUE_URL,
      ReceiptHandle: `receipt-sqs-${messageId}-1`,
      VisibilityTimeout: 5,
    });
    expect(visibility[1]).toMatchObject({ ReceiptHandle: `receipt-sqs-${messageId}-2` });
    expect(visibility[1]!.VisibilityTimeout).toBeLessThanOrEqual(5);
    expect(
      receiver.requests.slice(seenBefore).map((request) => request.headers['upstash-retried']),
    ).toEqual(['0']);
    const events = (
      await api('GET', '/v2/events', {
        rawQueryString: `messageId=${messageId}&order=earliestFirst`,
      })
    ).json!;
    expect((events.events as Array<{ state: string }>).map((event) => event.state)).toEqual([
      'CREATED',
      'ACTIVE',
      'ERROR',
      'RETRY',
    ]);
  });

  it('delays the first attempt with DelaySeconds, and postpones an early receive until due', async () => {
    const { json } = await api('POST', `/v2/publish/${receiver.url}/later`, {
      headers: { 'upstash-delay': '2m' },
    });
    const messageId = String(json!.messageId);

    const early = await deliver(messageId);

    expect(sentEntries()).toEqual([{ messageId, delaySeconds: 120 }]);
    expect(early.batchItemFailures).toHaveLength(1);
    const [postponed] = sqs.commandCalls(ChangeMessageVisibilityCommand);
    expect(postponed!.args[0].input.VisibilityTimeout).toBeGreaterThanOrEqual(119);
    expect(postponed!.args[0].input.VisibilityTimeout).toBeLessThanOrEqual(120);
  });

  it('hands a delay beyond 15 minutes to EventBridge Scheduler', async () => {
    const { json } = await api('POST', `/v2/publish/${receiver.url}/much-later`, {
      headers: { 'upstash-delay': '2h' },
    });

    const [call] = scheduler.commandCalls(CreateScheduleCommand);

    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(call!.args[0].input).toMatchObject({
      GroupName: 'sqstash',
      ScheduleExpression: expect.stringMatching(/^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:00\)$/),
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: QUEUE_ARN, Input: JSON.stringify({ messageId: json!.messageId }) },
    });
  });

  it('refuses flow control with a 501 until the AWS runtime enforces it, storing nothing', async () => {
    const published = await api('POST', `/v2/publish/${receiver.url}/limited`, {
      headers: {
        'upstash-flow-control-key': 'llm',
        'upstash-flow-control-value': 'parallelism=1',
      },
    });
    const key = await api('GET', '/v2/flowControl/llm');

    expect(published).toMatchObject({
      status: 501,
      json: { error: expect.stringContaining('flow control is not available') },
    });
    expect(key.status).toBe(501);
    expect(sentEntries()).toEqual([]);
  });

  it('dead-letters a message on its last failure and queues its failure callback', async () => {
    receiver.respondWith(() => ({ status: 500, body: 'down' }));
    const { json } = await api('POST', `/v2/publish/${receiver.url}/down`, {
      headers: { 'upstash-retries': '0', 'upstash-failure-callback': `${receiver.url}/failed` },
    });
    const messageId = String(json!.messageId);

    const response = await deliver(messageId);
    const dlq = await api('GET', '/v2/dlq');

    expect(response).toEqual({ batchItemFailures: [] });
    const callbackEntry = sentEntries().at(-1)!;
    expect(callbackEntry.messageId).not.toBe(messageId);
    expect(dlq.json!.messages).toEqual(
      expect.arrayContaining([expect.objectContaining({ messageId, responseStatus: 500 })]),
    );
  });

  it('dead-letters a message SQS redrove after repeated crashes, with the reason', async () => {
    const { json } = await api('POST', `/v2/publish/${receiver.url}/poison`, {});
    const messageId = String(json!.messageId);
    const record = sqsRecord({ body: JSON.stringify({ messageId }), receiveCount: 12 });

    const response = await deadLetterHandler(sqsEvent([record]), context);
    const entry = (await api('GET', '/v2/dlq', { rawQueryString: `messageId=${messageId}` })).json!;

    expect(response).toEqual({ batchItemFailures: [] });
    expect(entry.messages).toEqual([expect.objectContaining({ messageId, responseStatus: 0 })]);
    expect(
      (await api('GET', '/v2/events', { rawQueryString: `messageId=${messageId}&state=FAILED` }))
        .json!.events,
    ).toEqual([
      expect.objectContaining({
        state: 'FAILED',
        error: expect.stringMatching(/after 12 receives/),
      }),
    ]);
  });

  it('drops an entry for a message that was never stored, once it is old enough', async () => {
    const stale = sqsRecord({
      body: JSON.stringify({ messageId: 'msg_never' }),
      sentAt: Date.now() - 120_000,
    });
    const fresh = sqsRecord({ body: JSON.stringify({ messageId: 'msg_not_yet' }) });

    const response = await deliveryHandler(sqsEvent([stale, fresh]), context);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: fresh.messageId }] });
  });
});
