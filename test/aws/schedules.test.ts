import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ListSchedulesCommand,
  type ScheduleSummary,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { decodeEntry, encodeReconcileBody } from '../../lambdas/adapters/aws/sqs-entries';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import type { FakeSqs } from '../helpers/fake-sqs';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  DEPLOYED,
  resetAwsMocks,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { TestReceiver } from '../helpers/receiver';

const { queueArn: QUEUE_ARN, schedulerRoleArn: ROLE_ARN } = DEPLOYED;
const { scheduler } = awsMocks;
const GROUP = 'sqstash-schedules';

const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

/** The CreateSchedule calls' inputs, oldest first. */
function created(): CreateScheduleCommandInput[] {
  return scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
}

describe('Cron schedules on AWS, in-process (dynalite, fake SQS, mocked Scheduler/Secrets, a real receiver)', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let queue: FakeSqs;

  /** The message ids of the attempt entries the functions sent, oldest first. */
  const queuedMessageIds = () =>
    queue.sent.flatMap(({ body }) => {
      const entry = decodeEntry(body);
      return entry.kind === 'attempt' ? [entry.messageId] : [];
    });
  /** Puts what EventBridge puts on the queue when the schedule fires: its Input, filled in. */
  const putTick = (input: CreateScheduleCommandInput, tick: string) =>
    queue.put(input.Target!.Input!.replace(SCHEDULED_TIME, tick));
  const drain = (idleMs = 0) => queue.drain({ delivery: deliveryHandler, context, idleMs });

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment(GROUP);
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

  /** Creates a schedule through the API and resolves with its id and its CreateSchedule input. */
  async function createSchedule(path: string, cron: string) {
    const response = await api('POST', `/v2/schedules/${receiver.url}${path}`, {
      headers: { 'upstash-cron': cron, 'content-type': 'text/plain' },
      body: `tick of ${path}`,
    });
    expect(response.status).toBe(200);
    const { scheduleId } = response.json as { scheduleId: string };
    const input = created().at(-1)!;
    return { scheduleId, input };
  }

  it('creates one EventBridge schedule, in the zone, whose target puts the tick template on the queue', async () => {
    const { scheduleId } = await createSchedule(
      '/weekdays',
      'CRON_TZ=America/New_York 0 9 * * 1-5',
    );

    expect(created()).toEqual([
      {
        Name: `cron.${scheduleId}`,
        GroupName: GROUP,
        Description: `sqstash schedule ${scheduleId}: CRON_TZ=America/New_York 0 9 * * 1-5`,
        ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
        ScheduleExpressionTimezone: 'America/New_York',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: QUEUE_ARN,
          RoleArn: ROLE_ARN,
          Input: JSON.stringify({ scheduleId, tick: SCHEDULED_TIME }),
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      },
    ]);
    expect(queue.sent).toEqual([]);
  });

  it('publishes one message per tick, however often the tick arrives, and delivers it with Upstash-Schedule-Id', async () => {
    const { scheduleId, input } = await createSchedule('/daily', '30 6 * * *');
    const seen = receiver.requests.length;

    // Scheduler and SQS deliver at least once: the same tick three times, two in one batch.
    putTick(input, '2026-11-24T06:30:00Z');
    await drain();
    putTick(input, '2026-11-24T06:30:00Z');
    putTick(input, '2026-11-24T06:30:00Z');
    await drain();
    const [request] = (await receiver.waitForRequests(seen + 1)).slice(seen);

    expect(queuedMessageIds()).toHaveLength(1);
    expect(receiver.requests).toHaveLength(seen + 1);
    expect(request!.path).toBe('/daily');
    expect(request!.headers['upstash-schedule-id']).toBe(scheduleId);
    expect(request!.body.toString()).toBe('tick of /daily');
    const schedule = (await api('GET', `/v2/schedules/${scheduleId}`)).json as Record<
      string,
      unknown
    >;
    expect(schedule).toMatchObject({
      scheduleId,
      lastScheduleTime: Date.parse('2026-11-24T06:30:00Z'),
    });
  });

  it('publishes the next tick as a new message', async () => {
    const { input } = await createSchedule('/hourly', '0 * * * *');

    putTick(input, '2026-11-24T10:00:00Z');
    putTick(input, '2026-11-24T11:00:00Z');
    await drain();

    const ids = queuedMessageIds();
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('disables the EventBridge schedule on pause, enables it on resume, and deletes it on delete', async () => {
    const { scheduleId, input } = await createSchedule('/managed', '*/10 * * * *');
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));

    const paused = await api('PATCH', `/v2/schedules/${scheduleId}/pause`);
    const resumed = await api('PATCH', `/v2/schedules/${scheduleId}/resume`);
    const deleted = await api('DELETE', `/v2/schedules/${scheduleId}`);

    expect([paused.status, resumed.status, deleted.status]).toEqual([200, 200, 200]);
    const updates = scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input);
    expect(updates).toEqual([
      { ...input, State: 'DISABLED' },
      { ...input, State: 'ENABLED' },
    ]);
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual(
      [{ Name: `cron.${scheduleId}`, GroupName: GROUP }],
    );
    expect((await api('GET', `/v2/schedules/${scheduleId}`)).status).toBe(404);
  });

  it('skips a tick that arrives after the schedule was paused', async () => {
    const { scheduleId, input } = await createSchedule('/paused', '0 12 * * *');
    await api('PATCH', `/v2/schedules/${scheduleId}/pause`);

    putTick(input, '2026-11-24T12:00:00Z');
    await drain();

    expect(queue.queues.delivery).toEqual([]);
    expect(queuedMessageIds()).toEqual([]);
    expect(scheduler.commandCalls(DeleteScheduleCommand)).toHaveLength(0);
  });

  it('refuses with a 400, storing nothing, a cron EventBridge cannot express', async () => {
    const before = (await api<unknown[]>('GET', '/v2/schedules')).json!;

    const response = await api('POST', `/v2/schedules/${receiver.url}/both-days`, {
      headers: { 'upstash-cron': '0 9 1 * 1' },
    });

    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: expect.stringMatching(/both restricted/) });
    expect(scheduler.calls()).toHaveLength(0);
    expect((await api('GET', '/v2/schedules')).json).toHaveLength(before.length);
  });

  it('deletes the EventBridge schedule of a schedule that no longer exists when its tick arrives', async () => {
    queue.put(JSON.stringify({ scheduleId: 'scd_gone', tick: '2026-11-24T12:00:00Z' }));
    await drain();

    expect(queue.queues.delivery).toEqual([]);
    expect(queuedMessageIds()).toEqual([]);
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual(
      [{ Name: 'cron.scd_gone', GroupName: GROUP }],
    );
  });

  it('leaves a tick that could not fire to SQS, and fires it once when it comes back', async () => {
    const { input } = await createSchedule('/flaky-queue', '15 * * * *');
    queue.failNextSends(1);
    const seen = receiver.requests.length;
    const entry = putTick(input, '2026-11-24T10:15:00Z');

    await drain(1_500);

    // Kept on the queue and received again within seconds (ChangeMessageVisibility), then fired.
    expect(entry.receives).toBe(2);
    expect(queue.queues.delivery).toEqual([]);
    expect(queuedMessageIds()).toHaveLength(1);
    const delivered = (await receiver.waitForRequests(seen + 1)).slice(seen);
    expect(delivered.map((request) => request.path)).toEqual(['/flaky-queue']);
  });

  it('puts back, from the stored schedules, an EventBridge schedule whose CreateSchedule failed', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejectsOnce(new Error('Scheduler is unavailable'))
      .resolves({ ScheduleArn: 'arn:schedule' });
    const response = await api('POST', `/v2/schedules/${receiver.url}/unfired`, {
      headers: { 'upstash-cron': '0 8 * * *' },
    });
    // The schedule is stored (the store is the truth), but its EventBridge schedule is missing.
    expect(response.status).toBe(500);
    const [stored] = (
      await api<{ scheduleId: string; destination: string }[]>('GET', '/v2/schedules')
    ).json!.filter((schedule) => schedule.destination.endsWith('/unfired'));
    expect(stored).toBeDefined();
    const missing = created().at(-1)!;
    // EventBridge lists every schedule but the missing one, and one a deleted schedule left.
    const listed: ScheduleSummary[] = [
      ...scheduler.commandCalls(CreateScheduleCommand).slice(0, -1),
    ].map((call) => ({
      Name: call.args[0].input.Name,
      State: 'ENABLED',
      LastModificationDate: new Date(),
    }));
    listed.push({ Name: 'cron.scd_deleted', State: 'ENABLED', LastModificationDate: new Date(0) });
    scheduler.on(ListSchedulesCommand).resolves({ Schedules: listed });

    queue.put(encodeReconcileBody().replace(SCHEDULED_TIME, '2026-11-24T10:20:00Z'));
    await drain();

    expect(created().at(-1)).toEqual(missing);
    expect(missing.Name).toBe(`cron.${stored!.scheduleId}`);
    expect(scheduler.commandCalls(ListSchedulesCommand)[0]!.args[0].input).toEqual({
      GroupName: GROUP,
      NamePrefix: 'cron.',
    });
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input)).toEqual(
      [{ Name: 'cron.scd_deleted', GroupName: GROUP }],
    );
  });
});
