import { decodeEntry } from '../../lambdas/adapters/aws/sqs-entries';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  callApi as api,
  lambdaContext as context,
  resetAwsMocks,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

/** In all, half through each queue. */
const MESSAGES = 1_000;
const PER_QUEUE = MESSAGES / 2;

type QueueJson = { name: string; lag: number; parallelism: number; paused: boolean };

/**
 * FIFO queues on AWS are pushed, not polled: a message waits in DynamoDB, outside SQS, until
 * its queue has a free place, and the settlement that frees one starts the next message.
 */
describe('FIFO queues on AWS, in-process (dynalite, fake SQS, a real receiver)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let queue: FakeSqs;
  const drain = (
    options: { until?: () => boolean; timeoutMs?: number; concurrency?: number } = {},
  ) =>
    queue.drain({ delivery: deliveryHandler, deadLetter: deadLetterHandler, context, ...options });
  const enqueue = (queueName: string, path: string, headers: Record<string, string> = {}) =>
    api<{ messageId: string }>('POST', `/v2/enqueue/${queueName}/${receiver.url}${path}`, {
      headers: { 'content-type': 'text/plain', ...headers },
      body: path,
    }).then((response) => response.json!.messageId);
  const queueOf = async (name: string) => (await api<QueueJson>('GET', `/v2/queues/${name}`)).json!;
  const arrived = (prefix: string) =>
    receiver.requests
      .filter((request) => request.path.startsWith(prefix))
      .map((request) => request.path);

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash-fifo');
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

  it(`delivers ${MESSAGES} messages, half through a queue of parallelism 1 and half through one of 3, in order, each entry received at most twice, none dead-lettered`, async () => {
    await api('POST', '/v2/queues', { body: JSON.stringify({ queueName: 'one', parallelism: 1 }) });
    await api('POST', '/v2/queues', {
      body: JSON.stringify({ queueName: 'three', parallelism: 3 }),
    });
    // In-flight attempts per queue, seen by the destination.
    const inFlight = { one: 0, three: 0 };
    const most = { one: 0, three: 0 };
    receiver.respondWith((request) => {
      const name = request.path.split('/')[1] as 'one' | 'three';
      inFlight[name] += 1;
      most[name] = Math.max(most[name], inFlight[name]);
      setTimeout(() => {
        inFlight[name] -= 1;
      }, 5);
      return { status: 200, delayMs: 5 };
    });
    const elements = ['one', 'three'].flatMap((name) =>
      Array.from({ length: PER_QUEUE }, (_, index) => ({
        destination: `${receiver.url}/${name}/${index}`,
        queue: name,
        body: String(index),
      })),
    );
    const response = await api('POST', '/v2/batch', { body: JSON.stringify(elements) });
    expect(response.status).toBe(200);

    // Waiting messages are not in SQS: only the pumps that start them are.
    expect((await queueOf('one')).lag).toBe(PER_QUEUE);
    expect((await queueOf('three')).lag).toBe(PER_QUEUE);
    expect(queue.queues.delivery.map((entry) => decodeEntry(entry.body).kind)).not.toContain(
      'attempt',
    );

    await drain({
      until: () => arrived('/one/').length + arrived('/three/').length === MESSAGES,
      timeoutMs: 120_000,
      concurrency: 4,
    });
    await drain();

    const order = (name: string) => arrived(`/${name}/`).map((path) => Number(path.split('/')[2]));
    expect(order('one')).toEqual(Array.from({ length: PER_QUEUE }, (_, index) => index));
    // Parallelism 3: each message starts only once all but two of those before it ended.
    const three = order('three');
    expect([...three].sort((a, b) => a - b)).toEqual(
      Array.from({ length: PER_QUEUE }, (_, index) => index),
    );
    const startedEarly = three.filter((index, position) =>
      three.slice(position + 1).some((later) => later <= index - 3),
    );
    expect(startedEarly).toEqual([]);
    expect(most.one).toBe(1);
    expect(most.three).toBeLessThanOrEqual(3);
    expect(Math.max(...queue.receives.values())).toBeLessThanOrEqual(2);
    expect(queue.queues['dead-letter']).toEqual([]);
    expect((await api<{ messages: unknown[] }>('GET', '/v2/dlq')).json!.messages).toEqual([]);
    expect((await queueOf('one')).lag).toBe(0);
    expect((await queueOf('three')).lag).toBe(0);
  }, 180_000);

  it('keeps a retried message in its place: the next waits for it', async () => {
    let failedOnce = false;
    receiver.respondWith((request) => {
      if (request.path !== '/retry/1' || failedOnce) return { status: 200 };
      failedOnce = true;
      return { status: 500 };
    });
    await enqueue('retry-q', '/retry/1', { 'upstash-retries': '2', 'upstash-retry-delay': '0' });
    await enqueue('retry-q', '/retry/2');

    await drain({ until: () => arrived('/retry/').length === 3 });

    expect(arrived('/retry/')).toEqual(['/retry/1', '/retry/1', '/retry/2']);
  });

  it("holds a message's place for its callback until the callback is delivered", async () => {
    await enqueue('cb-q', '/cb/1', { 'upstash-callback': `${receiver.url}/cb/callback` });
    await enqueue('cb-q', '/cb/2');

    await drain({ until: () => arrived('/cb/').length === 3 });

    expect(arrived('/cb/')).toEqual(['/cb/1', '/cb/callback', '/cb/2']);
  });

  it('holds the messages of a paused queue until it is resumed, and passes over a canceled one', async () => {
    await api('POST', '/v2/queues', {
      body: JSON.stringify({ queueName: 'paused-q', paused: true }),
    });
    await enqueue('paused-q', '/paused/1');
    const second = await enqueue('paused-q', '/paused/2');
    await enqueue('paused-q', '/paused/3');

    await drain();
    expect(arrived('/paused/')).toEqual([]);
    expect(await api('DELETE', `/v2/messages/${second}`)).toEqual({
      status: 200,
      json: { cancelled: 1 },
    });
    expect((await queueOf('paused-q')).lag).toBe(2);

    await api('POST', '/v2/queues/paused-q/resume');
    await drain({ until: () => arrived('/paused/').length === 2 });
    await drain();

    expect(arrived('/paused/')).toEqual(['/paused/1', '/paused/3']);
    expect((await queueOf('paused-q')).lag).toBe(0);
  });
});
