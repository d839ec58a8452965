import type { Server } from 'node:http';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { Client } from '@upstash/qstash';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  resetAwsMocks,
  startFrontDoor,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

const { scheduler } = awsMocks;

describe('the official QStash SDK against the AWS functions (in-process, fake SQS)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let frontDoor: { url: string; server: Server };
  let client: Client;
  let queue: FakeSqs;
  const drain = (until?: () => boolean) =>
    queue.drain({
      delivery: deliveryHandler,
      deadLetter: deadLetterHandler,
      context,
      ...(until && { until }),
    });

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash-sdk');
    receiver = await TestReceiver.start();
    frontDoor = await startFrontDoor();
    client = new Client({ baseUrl: frontDoor.url, token: DEPLOYED.token, retry: false });
  });
  afterAll(async () => {
    await new Promise((resolve) => frontDoor.server.close(resolve));
    await receiver.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    queue = resetAwsMocks();
    receiver.respondWith(() => ({ status: 200 }));
  });

  it('publishes and delivers; the message and its logs appear with its first outcome', async () => {
    const { messageId } = await client.publishJSON({
      url: `${receiver.url}/sdk/json`,
      body: { order: 42 },
      retries: 0,
    });

    // Eventual visibility: carried by SQS alone, it is not in DynamoDB before its attempt.
    await expect(client.messages.get(messageId)).rejects.toThrow(/not found/i);
    await drain(() => receiver.requests.some((request) => request.path === '/sdk/json'));
    await drain();

    const { logs } = await client.logs({ messageIds: [messageId] });
    expect(logs.map((log) => log.state).sort()).toEqual(['ACTIVE', 'CREATED', 'DELIVERED']);
    const request = receiver.requests.find((entry) => entry.path === '/sdk/json')!;
    expect(JSON.parse(request.body.toString())).toEqual({ order: 42 });
  });

  it('shows a retrying message, cancels it, and logs the cancel', async () => {
    receiver.respondWith((request) => ({ status: request.path === '/sdk/flaky' ? 503 : 200 }));
    const { messageId } = await client.publish({
      url: `${receiver.url}/sdk/flaky`,
      body: 'again',
      retries: 3,
      // The first retry is an hour away: the message waits for sure.
      retryDelay: '3600000',
    });
    await drain(() => receiver.requests.some((request) => request.path === '/sdk/flaky'));

    const pending = await client.messages.get(messageId);
    expect(pending).toMatchObject({ messageId, url: `${receiver.url}/sdk/flaky`, body: 'again' });
    await client.messages.delete(messageId);
    await expect(client.messages.get(messageId)).rejects.toThrow(/not found/i);
    const { logs } = await client.logs({ messageIds: [messageId] });
    expect(logs.map((log) => log.state)).toContain('CANCELED');
  });

  it('batches, fans out to a URL group, and lists queues and their lag', async () => {
    await client.urlGroups.addEndpoints({
      name: 'sdk-group',
      endpoints: [{ url: `${receiver.url}/sdk/a` }, { url: `${receiver.url}/sdk/b` }],
    });
    const published = await client.batchJSON([
      { urlGroup: 'sdk-group', body: { n: 1 } },
      { url: `${receiver.url}/sdk/c`, body: { n: 2 } },
    ]);
    await client.queue({ queueName: 'sdk-queue' }).upsert({ parallelism: 1, paused: true });
    await client.queue({ queueName: 'sdk-queue' }).enqueueJSON({
      url: `${receiver.url}/sdk/queued`,
      body: { n: 3 },
    });

    await drain(() => receiver.requests.filter((r) => r.path.startsWith('/sdk/')).length >= 3);
    await drain();

    expect(published.flat()).toHaveLength(3);
    expect(
      receiver.requests
        .map((request) => request.path)
        .filter((path) => ['/sdk/a', '/sdk/b', '/sdk/c'].includes(path))
        .sort(),
    ).toEqual(['/sdk/a', '/sdk/b', '/sdk/c']);
    const queued = await client.queue({ queueName: 'sdk-queue' }).get();
    expect(queued).toMatchObject({ name: 'sdk-queue', parallelism: 1, paused: true, lag: 1 });
  });

  it('serves every flowControl method: a published message waits in a paused key, pinned, unpinned, reset and resumed', async () => {
    const key = 'sdk-llm';
    await client.flowControl.pause(key);
    const { messageId } = await client.publish({
      url: `${receiver.url}/sdk/flow`,
      body: 'limited',
      flowControl: { key, parallelism: 1, rate: 10, period: '1m' },
    });
    expect(await client.messages.get(messageId)).toMatchObject({
      flowControlKey: key,
      parallelism: 1,
      rate: 10,
      period: 60,
    });
    await drain();
    expect(receiver.requests.some((request) => request.path === '/sdk/flow')).toBe(false);

    await client.flowControl.pin(key, { parallelism: 4, rate: 20 });
    expect(await client.flowControl.get(key)).toMatchObject({
      flowControlKey: key,
      waitListSize: 1,
      parallelismMax: 4,
      rateMax: 20,
      ratePeriod: 60,
      isPaused: true,
      isPinnedParallelism: true,
      isPinnedRate: true,
    });
    await client.flowControl.unpin(key, { parallelism: true, rate: true });
    await client.flowControl.resetRate(key);
    expect(await client.flowControl.get(key)).toMatchObject({
      isPinnedParallelism: false,
      isPinnedRate: false,
      rateCount: 0,
    });
    await client.flowControl.resume(key);
    await drain(() => receiver.requests.some((request) => request.path === '/sdk/flow'));
    await drain();

    expect(await client.flowControl.getGlobalParallelism()).toEqual({
      parallelismMax: 0,
      parallelismCount: 0,
    });
    const { logs } = await client.logs({ filter: { messageId } });
    expect(logs.map((log) => log.state).sort()).toEqual(['ACTIVE', 'CREATED', 'DELIVERED']);
  });

  it('creates, lists, pauses and deletes a schedule, each backed by its EventBridge schedule', async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${receiver.url}/sdk/cron`,
      cron: '*/5 * * * *',
      body: 'tick',
    });
    // It exists now: EventBridge refuses to create it again, so a change updates it.
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    await client.schedules.pause({ schedule: scheduleId });

    expect(await client.schedules.get(scheduleId)).toMatchObject({
      scheduleId,
      cron: '*/5 * * * *',
      isPaused: true,
    });
    expect((await client.schedules.list()).map((schedule) => schedule.scheduleId)).toContain(
      scheduleId,
    );
    await client.schedules.delete(scheduleId);
    await expect(client.schedules.get(scheduleId)).rejects.toThrow(/not found/i);
    expect(
      scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input.State),
    ).toEqual(['DISABLED']);
    expect(scheduler.commandCalls(DeleteScheduleCommand)).toHaveLength(1);
  });
});
