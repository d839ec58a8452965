import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { decodeEntry } from '../../lambdas/adapters/aws/sqs-entries';
import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  resetAwsMocks,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { expectAtMostPerWindow } from '../helpers/rate-window';
import type { Responder } from '../helpers/receiver';
import { concurrencyProbe, TestReceiver } from '../helpers/receiver';

const { scheduler } = awsMocks;
const SECOND_MS = 1_000;
/**
 * An attempt's ACTIVE event is stamped as the attempt starts, just after the key's state
 * admitted it; on a loaded machine the function may be descheduled in between. Still far below
 * what a limiter that lets a burst through would show: six starts within milliseconds.
 */
const START_STAMP_SLACK_MS = 200;

type KeyJson = {
  flowControlKey: string;
  waitListSize: number;
  parallelismMax: number;
  parallelismCount: number;
  rateMax: number;
  rateCount: number;
  ratePeriod: number;
  isPaused: boolean;
  isPinnedParallelism: boolean;
  isPinnedRate: boolean;
};

/**
 * Flow control on AWS: the limits hold across URLs with the real functions, DynamoDB (dynalite)
 * and a fake SQS. A message over a limit waits in its key, out of SQS, and whatever frees a slot
 * starts it; a rate timer is one entry delayed to when the window frees a slot.
 */
describe('flow control on AWS, in-process (dynalite, fake SQS, a real receiver)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let queue: FakeSqs;
  let keys = 0;
  const uniqueKey = () => `fc-${++keys}`;
  const drain = (
    options: { until?: () => boolean; timeoutMs?: number; concurrency?: number } = {},
  ) =>
    queue.drain({ delivery: deliveryHandler, deadLetter: deadLetterHandler, context, ...options });
  const publish = async (path: string, key: string, value: string) => {
    const response = await api<{ messageId: string }>(
      'POST',
      `/v2/publish/${receiver.url}${path}`,
      {
        headers: {
          'content-type': 'text/plain',
          'upstash-flow-control-key': key,
          'upstash-flow-control-value': value,
        },
        body: path,
      },
    );
    expect(response.status).toBe(200);
    return response.json!.messageId;
  };
  const keyOf = async (key: string) => {
    const response = await api<KeyJson>('GET', `/v2/flowControl/${key}`);
    expect(response.status).toBe(200);
    return response.json!;
  };
  const action = async (key: string, name: string, rawQueryString?: string) => {
    const response = await api('POST', `/v2/flowControl/${key}/${name}`, {
      ...(rawQueryString !== undefined && { rawQueryString }),
    });
    expect(response.status).toBe(200);
  };
  const arrived = (prefix: string) =>
    receiver.requests.filter((request) => request.path.startsWith(prefix));
  const attemptEntries = () =>
    queue.queues.delivery.filter((entry) => decodeEntry(entry.body).kind === 'attempt');
  /** Every entry was received at most twice and nothing reached the dead-letter queue. */
  const expectNeverRepolled = async () => {
    expect(Math.max(0, ...queue.receives.values())).toBeLessThanOrEqual(2);
    expect(queue.queues['dead-letter']).toEqual([]);
    expect((await api<{ messages: unknown[] }>('GET', '/v2/dlq')).json!.messages).toEqual([]);
  };
  const respondWith = (responder: Responder) => receiver.respondWith(responder);

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash-flow-control');
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await dynalite.close();
  });
  beforeEach(() => {
    queue = resetAwsMocks();
    respondWith(() => ({ status: 200 }));
  });

  it('starts at most 5 deliveries in any second for rate 5 per 1s, over 30 messages to two URLs', async () => {
    const key = uniqueKey();
    const messageIds = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        publish(`/rate/${n % 2 === 0 ? 'a' : 'b'}/${n}`, key, 'rate=5, period=1s'),
      ),
    );
    expect(await keyOf(key)).toMatchObject({ waitListSize: 30, rateMax: 5, ratePeriod: 1 });

    await drain({
      until: () => arrived('/rate/').length === 30,
      timeoutMs: 40_000,
      concurrency: 3,
    });

    // The starts, as each attempt's ACTIVE event stamps them (read by id: no watermark).
    const starts = await Promise.all(
      messageIds.map(async (messageId) => {
        const { json } = await api<{ events: { state: string; time: number }[] }>(
          'GET',
          '/v2/events',
          { rawQueryString: `messageId=${messageId}&state=ACTIVE` },
        );
        expect(json!.events).toHaveLength(1);
        return json!.events[0]!.time;
      }),
    );
    expectAtMostPerWindow(starts, 5, SECOND_MS - START_STAMP_SLACK_MS);
    expect(arrived('/rate/a/')).toHaveLength(15);
    await expectNeverRepolled();
  }, 60_000);

  it('keeps parallelism 2 under 20 concurrent publishes to a slow destination', async () => {
    const key = uniqueKey();
    const { probe, responder } = concurrencyProbe(150);
    respondWith(responder);
    await Promise.all(
      Array.from({ length: 20 }, (_, n) => publish(`/slow/${n}`, key, 'parallelism=2')),
    );

    await drain({
      until: () => arrived('/slow/').length === 20,
      timeoutMs: 40_000,
      concurrency: 4,
    });
    await drain();

    expect(probe.max).toBe(2);
    // Nothing pending, set or counted: the key is forgotten.
    expect(await api('GET', `/v2/flowControl/${key}`)).toMatchObject({ status: 404 });
    await expectNeverRepolled();
  }, 60_000);

  it('holds a paused key until it is resumed; its waiting messages are not in SQS', async () => {
    const key = uniqueKey();
    await action(key, 'pause');
    for (const n of [1, 2, 3]) await publish(`/paused/${n}`, key, 'parallelism=5');

    await drain();

    expect(arrived('/paused/')).toEqual([]);
    expect(attemptEntries()).toEqual([]);
    expect(await keyOf(key)).toMatchObject({
      isPaused: true,
      waitListSize: 3,
      parallelismCount: 0,
    });

    await action(key, 'resume');
    await drain({ until: () => arrived('/paused/').length === 3 });
    await drain();

    expect(
      arrived('/paused/')
        .map((request) => request.path)
        .sort(),
    ).toEqual(['/paused/1', '/paused/2', '/paused/3']);
    await expectNeverRepolled();
  }, 30_000);

  it('ends a waiting message canceled, unattempted, and gives its turn to the next', async () => {
    const key = uniqueKey();
    await action(key, 'pause');
    const ids = [];
    for (const n of [1, 2, 3]) ids.push(await publish(`/canceled/${n}`, key, 'parallelism=1'));
    await drain();

    expect((await api('DELETE', `/v2/messages/${ids[1]}`)).json).toEqual({ cancelled: 1 });
    expect(await keyOf(key)).toMatchObject({ waitListSize: 2 });
    await action(key, 'resume');
    await drain({ until: () => arrived('/canceled/').length === 2 });
    await drain();

    // Flow control keeps no order (a FIFO queue does): which went first is not asserted.
    expect(
      arrived('/canceled/')
        .map((request) => request.path)
        .sort(),
    ).toEqual(['/canceled/1', '/canceled/3']);
    const { json } = await api<{ events: { state: string }[] }>('GET', '/v2/events', {
      rawQueryString: `messageId=${ids[1]}&order=earliestFirst`,
    });
    expect(json!.events.map((event) => event.state)).toEqual([
      'CREATED',
      'CANCEL_REQUESTED',
      'CANCELED',
    ]);
    // Nothing of it is left counted: the key is forgotten.
    expect(await api('GET', `/v2/flowControl/${key}`)).toMatchObject({ status: 404 });
    await expectNeverRepolled();
  }, 30_000);

  it('runs at a pinned parallelism over what messages carry; after unpin the pinned value carries on until a new message brings another', async () => {
    const key = uniqueKey();
    const { probe, responder } = concurrencyProbe(150);
    respondWith(responder);
    await action(key, 'pin', 'parallelism=3');
    for (let n = 0; n < 9; n += 1) await publish(`/pinned/${n}`, key, 'parallelism=1');
    expect(await keyOf(key)).toMatchObject({ parallelismMax: 3, isPinnedParallelism: true });

    await drain({
      until: () => arrived('/pinned/').length === 9,
      timeoutMs: 30_000,
      concurrency: 4,
    });
    await drain();
    expect(probe.max).toBe(3);

    await action(key, 'unpin', 'parallelism=true');
    await publish('/pinned/late', key, 'parallelism=3');
    // Published after the unpin with the carried value: nothing changes yet.
    expect(await keyOf(key)).toMatchObject({ parallelismMax: 3, isPinnedParallelism: false });
    await publish('/pinned/new', key, 'parallelism=1');
    // A new message brought another value: the highest pending one applies.
    expect(await keyOf(key)).toMatchObject({ parallelismMax: 3 });
    await drain({ until: () => arrived('/pinned/').length === 11 });
    await drain();
    await expectNeverRepolled();
  }, 60_000);

  it('starts a message held by the rate at once when the rate is reset', async () => {
    const key = uniqueKey();
    await publish('/reset/1', key, 'rate=1, period=60s');
    await publish('/reset/2', key, 'rate=1, period=60s');
    await drain({ until: () => arrived('/reset/').length === 1 });
    await drain();

    expect(await keyOf(key)).toMatchObject({ rateCount: 1, waitListSize: 1, rateMax: 1 });
    // The rate timer waits in SQS for the window, a minute away: the message does not.
    expect(attemptEntries()).toEqual([]);
    expect(queue.queues.delivery.map((entry) => decodeEntry(entry.body))).toEqual([
      { kind: 'flow', key },
    ]);

    await action(key, 'resetRate');
    await drain({ until: () => arrived('/reset/').length === 2 });

    expect(arrived('/reset/').map((request) => request.path)).toEqual(['/reset/1', '/reset/2']);
    expect(Math.max(0, ...queue.receives.values())).toBeLessThanOrEqual(2);
  }, 30_000);

  it('sets a rate timer more than 15 minutes away with EventBridge Scheduler, not a chain of entries', async () => {
    const key = uniqueKey();
    await publish('/hourly/1', key, 'rate=1, period=1h');
    await publish('/hourly/2', key, 'rate=1, period=1h');
    await drain({ until: () => arrived('/hourly/').length === 1 });
    await drain();

    const inputs = scheduler
      .commandCalls(CreateScheduleCommand)
      .map((call) => call.args[0].input.Target?.Input);
    expect(inputs).toEqual([JSON.stringify({ flow: key })]);
    expect(queue.queues.delivery).toEqual([]);
    expect(await keyOf(key)).toMatchObject({ waitListSize: 1, rateCount: 1 });

    // A timer that fires too early finds the rate full and sets the same timer again (one
    // schedule name per key and minute: Scheduler takes it as the existing one).
    queue.put(JSON.stringify({ flow: key }));
    await drain();
    expect(arrived('/hourly/')).toHaveLength(1);
    const names = scheduler
      .commandCalls(CreateScheduleCommand)
      .map((call) => call.args[0].input.Name);
    expect(names).toHaveLength(2);
    expect(names[1]).toBe(names[0]);
    expect(queue.queues.delivery).toEqual([]);
  });

  it('frees the slot of a failed attempt for the next message, and retries it within the limit', async () => {
    const key = uniqueKey();
    let failed = false;
    respondWith((request) => {
      if (request.path !== '/retry/1' || failed) return { status: 200 };
      failed = true;
      return { status: 500 };
    });
    const headers = { 'upstash-retries': '2', 'upstash-retry-delay': '0' };
    for (const n of [1, 2]) {
      const response = await api('POST', `/v2/publish/${receiver.url}/retry/${n}`, {
        headers: {
          ...headers,
          'upstash-flow-control-key': key,
          'upstash-flow-control-value': 'parallelism=1',
        },
      });
      expect(response.status).toBe(200);
    }

    await drain({ until: () => arrived('/retry/').length === 3 });
    await drain();

    expect(
      arrived('/retry/')
        .map((request) => request.path)
        .sort(),
    ).toEqual(['/retry/1', '/retry/1', '/retry/2']);
    expect(await api('GET', `/v2/flowControl/${key}`)).toMatchObject({ status: 404 });
    await expectNeverRepolled();
  }, 30_000);

  it('answers the global parallelism with the attempts in flight over every key', async () => {
    expect((await api('GET', '/v2/globalParallelism')).json).toEqual({
      parallelismMax: 0,
      parallelismCount: 0,
    });
  });
});
