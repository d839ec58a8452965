/**
 * The cost run (its own process): runs messages through the real Lambda handlers in-process, as
 * test/aws/handlers.test.ts does (dynalite for DynamoDB, a fake SQS queue that plays the event
 * source, aws-sdk-client-mock for Scheduler and Secrets Manager), with the default stack's
 * environment, one scenario at a time (SCENARIOS), and counts what they do per message: AWS
 * calls by name with the capacity they consume, log bytes, bytes sent to destinations. A second,
 * smaller pass of each scenario holds every AWS call to an assumed latency and measures each
 * invocation's wall and CPU time, for the Lambda duration model. Prints one JSON line.
 *
 * argv[2]: the number of messages per scenario.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveSqstashConfig } from '../../lib/config';
import { lambdaEnvironment } from '../../lib/lambda-environment';
import { apiGatewayEvent } from '../../test/helpers/aws-events';
import { FakeSqs } from '../../test/helpers/fake-sqs';
import { jsonBody } from '../config';
import { ROOT } from '../lib/processes';
import type { CostRun, PhaseCounts, ScenarioName, ScenarioRun, TimingStats } from './cost-types';
import { LATENCY_MS, MEMORY_MB, SCENARIO_NAMES } from './cost-types';
import type { LatencyModel } from './instrument';
import { DynamoInstrument, Ledger, padTo } from './instrument';

const TOKEN = 'bench-deploy-time-token-0123456789abcdef';
const KEYS = {
  current: 'sig_BenchCurrent1234567890abcdefg',
  next: 'sig_BenchNext1234567890abcdefghij',
};
const ACCOUNT = '123456789012';
const QUEUE_URL = `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/sqstash-delivery`;
const QUEUE_ARN = `arn:aws:sqs:us-east-1:${ACCOUNT}:sqstash-delivery`;
const TOKEN_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:sqstash-token`;
const KEYS_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:sqstash-keys`;
const SQS_CHUNK_BYTES = 64 * 1024;
/** Messages per scenario in the timing pass. */
const TIMING_MESSAGES = 50;
/** Messages per /v2/batch call in the batched scenario. */
const BATCH_OF = 100;
const HOUR_MS = 3_600_000;
const latency: LatencyModel = (service, command) =>
  (LATENCY_MS as Record<string, number>)[`${service}:${command}`] ??
  (LATENCY_MS as Record<string, number>)[service] ??
  10;

type Scenario = {
  readonly description: string;
  /** How the messages are published. */
  readonly publish: 'single' | 'batch' | 'fifo';
  /** Headers of the publish of message `index` of run `runId`. */
  readonly headers?: (index: number, runId: string) => Record<string, string>;
  /** The destination answers 503 to each message's first attempt. */
  readonly failFirst?: boolean;
  /** The clock moves on this much before delivery (one-time schedules fire then). */
  readonly advanceMs?: number;
};

const SCENARIOS: Record<ScenarioName, Scenario> = {
  base: {
    description: 'one publish per API call, delivered at its first attempt',
    publish: 'single',
  },
  batched: {
    description: `published ${BATCH_OF} per /v2/batch call`,
    publish: 'batch',
  },
  retry: {
    description: 'each message fails its first attempt (503) and is delivered by its retry',
    publish: 'single',
    // A retry a second later costs what one an hour later costs (both are delayed entries).
    headers: () => ({ 'upstash-retry-delay': '1000' }),
    failFirst: true,
  },
  delayed: {
    description: 'each message delayed 1 h (Upstash-Delay: 1h), woken by a one-time schedule',
    publish: 'single',
    headers: () => ({ 'upstash-delay': '1h' }),
    advanceMs: HOUR_MS + 1_000,
  },
  dedup: {
    description: 'each publish carries an Upstash-Deduplication-Id',
    publish: 'single',
    headers: (index, runId) => ({ 'upstash-deduplication-id': `order-${runId}-${index}` }),
  },
  fifo: {
    description: 'each message enqueued into a FIFO queue of parallelism 1 (/v2/enqueue)',
    publish: 'fifo',
  },
  flowControl: {
    description:
      'each message flow-controlled (parallelism=10, rate=1000 per second: a key it shares, within its limits)',
    publish: 'single',
    headers: (_index, runId) => ({
      'upstash-flow-control-key': `llm-${runId}`,
      'upstash-flow-control-value': 'parallelism=10, rate=1000, period=1s',
    }),
  },
};

// The delayed scenario moves the clock on by an hour: every Date.now() in this process (the
// handlers' clock, the fake queue's) reads the moved clock.
const realNow = Date.now.bind(Date);
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

type Backend = { dynalite: string; table: string; destination: string };

function startBackend(): Promise<Backend & { stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/cost/backend.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line)
        resolve({ ...(JSON.parse(line) as Backend), stop: () => child.kill() });
    });
    child.once('exit', (code) => reject(new Error(`cost backend exited with ${code}`)));
  });
}

/** Counts what the functions print, and swallows it. */
class LogCapture {
  bytes = 0;
  events = 0;
  readonly #write = process.stdout.write.bind(process.stdout);

  start(): void {
    process.stdout.write = ((chunk: string | Uint8Array) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      this.bytes += Buffer.byteLength(text);
      this.events += text.split('\n').filter((line) => line.trim() !== '').length;
      return true;
    }) as typeof process.stdout.write;
  }

  take(): { bytes: number; events: number } {
    const taken = { bytes: this.bytes, events: this.events };
    this.bytes = 0;
    this.events = 0;
    return taken;
  }

  /** Writes past the capture (the result line). */
  print(line: string): void {
    this.#write(`${line}\n`);
  }
}

function context(memoryMb: number): Context {
  return {
    functionName: 'sqstash-bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:sqstash-bench`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: 'bench-request',
    logGroupName: '/aws/lambda/sqstash-bench',
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context;
}

/** What the bench reads of an aws-sdk-client-mock stub: the commands it was sent. */
type CallLog = { calls(): { args: unknown[] }[]; resetHistory(): void };

function billedSqsRequests(stub: CallLog): number {
  let billed = 0;
  for (const call of stub.calls()) {
    const input = (call.args[0] as { input: Record<string, unknown> }).input;
    const bodies = (input.Entries as { MessageBody?: string }[] | undefined)?.map(
      (entry) => entry.MessageBody,
    ) ?? [input.MessageBody as string | undefined];
    const bytes = bodies.reduce((sum, body) => sum + Buffer.byteLength(body ?? ''), 0);
    billed += Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
  }
  return billed;
}

function countStub(ledger: Ledger, service: string, stub: CallLog): void {
  for (const call of stub.calls()) {
    const name = (call.args[0] as object).constructor.name.replace(/Command$/, '');
    ledger.add(`${service}:${name}`);
  }
}

type Sample = { wallMs: number; cpuMs: number };
type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/** The handler, each invocation's wall and CPU time kept in `samples`. */
function measured<E, R>(handler: Handler<E, R>, samples: Sample[]): Handler<E, R> {
  return async (event, ctx) => {
    const cpu = process.cpuUsage();
    const startedAt = performance.now();
    try {
      return await handler(event, ctx);
    } finally {
      const used = process.cpuUsage(cpu);
      samples.push({
        wallMs: performance.now() - startedAt,
        cpuMs: (used.user + used.system) / 1000,
      });
    }
  };
}

function stats(samples: readonly Sample[]): TimingStats {
  const mean = (pick: (sample: Sample) => number) =>
    samples.length === 0 ? 0 : samples.reduce((sum, s) => sum + pick(s), 0) / samples.length;
  return {
    invocations: samples.length,
    meanWallMs: mean((s) => s.wallMs),
    meanCpuMs: mean((s) => s.cpuMs),
  };
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 200);
  const backend = await startBackend();
  Object.assign(
    process.env,
    lambdaEnvironment(
      {
        tableName: backend.table,
        deliveryQueueUrl: QUEUE_URL,
        deliveryQueueArn: QUEUE_ARN,
        scheduleGroupName: 'sqstash',
        schedulerRoleArn: `arn:aws:iam::${ACCOUNT}:role/sqstash-scheduler`,
        tokenSecretArn: TOKEN_ARN,
        signingKeysSecretArn: KEYS_ARN,
      },
      resolveSqstashConfig({}, () => undefined),
    ),
    {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_ENDPOINT_URL_DYNAMODB: backend.dynalite,
      // The destination is this machine's loopback, which the deployed default refuses.
      SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'true',
    },
  );

  const ledger = new Ledger();
  const dynamo = new DynamoInstrument(
    ledger,
    new DynamoDBClient({
      endpoint: backend.dynalite,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    }),
    latency,
  );
  dynamo.install();

  let timing = false;
  const pad = async (service: string, command: string) => {
    if (timing) await padTo(performance.now(), latency(service, command));
  };
  const sqs = mockClient(SQSClient);
  const scheduler = mockClient(SchedulerClient);
  const schedules: CreateScheduleCommandInput[] = [];
  scheduler.on(CreateScheduleCommand).callsFake(async (input: CreateScheduleCommandInput) => {
    schedules.push(input);
    await pad('Scheduler', 'CreateSchedule');
    return { ScheduleArn: `arn:aws:scheduler:::schedule/${input.Name}` };
  });
  const secrets = mockClient(SecretsManagerClient);
  secrets
    .on(GetSecretValueCommand, { SecretId: TOKEN_ARN })
    .resolves({ SecretString: JSON.stringify({ token: TOKEN }) });
  secrets
    .on(GetSecretValueCommand, { SecretId: KEYS_ARN })
    .resolves({ SecretString: JSON.stringify(KEYS) });
  secrets.on(DescribeSecretCommand).resolves({});
  const stubs: [string, CallLog][] = [
    ['SQS', sqs],
    ['Scheduler', scheduler],
    ['SecretsManager', secrets],
  ];

  // Imported only now: Powertools and the compositions read the environment at load.
  const api = require('../../lambdas/aws/handlers/api') as {
    handler: Handler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;
  };
  const delivery = require('../../lambdas/aws/handlers/delivery') as {
    handler: Handler<SQSEvent, SQSBatchResponse>;
  };
  const apiContext = context(MEMORY_MB.api);
  const deliveryContext = context(MEMORY_MB.delivery);
  const control = (path: string) =>
    fetch(`${backend.destination}/control/${path}`, { method: 'POST' }).then(
      (response) =>
        response.json() as Promise<{ requests: number; bytes: number; delivered: number }>,
    );

  const body = jsonBody();
  const capture = new LogCapture();
  const phase = (invocations: number): PhaseCounts => {
    for (const [service, stub] of stubs) countStub(ledger, service, stub);
    const sqsBilledRequests = billedSqsRequests(sqs);
    for (const [, stub] of stubs) stub.resetHistory();
    const logs = capture.take();
    const counts = {
      invocations,
      calls: ledger.snapshot(),
      itemWrites: ledger.itemSnapshot(),
      sqsBilledRequests,
      logBytes: logs.bytes,
      logEvents: logs.events,
    };
    ledger.reset();
    return counts;
  };

  /** Runs `count` messages of a scenario from publish to delivery. */
  const run = async (name: ScenarioName, count: number) => {
    const scenario = SCENARIOS[name];
    const queue = new FakeSqs(sqs, {
      onCall: async (command) => pad('SQS', command),
    }).install();
    schedules.length = 0;
    await control('reset');
    await control(`fail-first/${scenario.failFirst ? 1 : 0}`);
    const apiSamples: Sample[] = [];
    const deliverySamples: Sample[] = [];
    const apiHandler = measured(api.handler, apiSamples);
    const deliveryHandler = measured(delivery.handler, deliverySamples);
    let responseBodyBytes = 0;
    const call = async (rawPath: string, payload: string, headers: Record<string, string>) => {
      const result = await apiHandler(
        apiGatewayEvent({
          method: 'POST',
          rawPath,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            ...headers,
          },
          body: payload,
        }),
        apiContext,
      );
      if (result.statusCode !== 200)
        throw new Error(`${rawPath} answered ${result.statusCode}: ${result.body}`);
      responseBodyBytes += Buffer.byteLength(result.body ?? '');
    };
    const destinationOf = (index: number) => `${backend.destination}/hook/${name}/${index}`;
    // Each run its own FIFO queue and deduplication ids: no run waits behind another's messages
    // or is deduplicated against them.
    const runId = String(realNow());
    const queueName = `orders-${runId}`;
    for (let start = 0; start < count; ) {
      if (scenario.publish === 'batch') {
        const size = Math.min(BATCH_OF, count - start);
        const elements = Array.from({ length: size }, (_, offset) => ({
          destination: destinationOf(start + offset),
          body,
          headers: { 'content-type': 'application/json' },
        }));
        await call('/v2/batch', JSON.stringify(elements), {});
        start += size;
        continue;
      }
      const rawPath =
        scenario.publish === 'fifo'
          ? `/v2/enqueue/${queueName}/${destinationOf(start)}`
          : `/v2/publish/${destinationOf(start)}`;
      await call(rawPath, body, scenario.headers?.(start, runId) ?? {});
      start += 1;
    }
    const apiCounts = phase(apiSamples.length);

    let schedulerInvocations = 0;
    if (scenario.advanceMs !== undefined) {
      clockOffsetMs += scenario.advanceMs;
      // EventBridge fires each one-time schedule: its input lands on the delivery queue.
      for (const schedule of schedules) {
        queue.put(schedule.Target!.Input!);
        schedulerInvocations += 1;
      }
    }
    await queue.drain({
      delivery: deliveryHandler,
      context: deliveryContext,
      // Long enough for the retries' delayed entries (1 s) to become visible.
      idleMs: 1_500,
      timeoutMs: 120_000,
    });
    const deliveryCounts = phase(deliverySamples.length);
    const destination = await control('stats');
    if (destination.delivered !== count) {
      throw new Error(
        `${name}: ${destination.delivered} of ${count} delivered; ${queue.queues.delivery.length} entries left, ${queue.queues['dead-letter'].length} dead-lettered`,
      );
    }
    return {
      api: apiCounts,
      delivery: deliveryCounts,
      schedulerInvocations,
      destination,
      responseBodyBytes,
      timing: { api: stats(apiSamples), delivery: stats(deliverySamples) },
    };
  };

  capture.start();
  try {
    // Cold starts of both functions (the secrets, read once per instance), not counted.
    dynamo.mode = 'off';
    await run('base', 1);

    const scenarios = {} as Record<ScenarioName, ScenarioRun>;
    for (const name of SCENARIO_NAMES) {
      dynamo.mode = 'count';
      timing = false;
      await control('delay/0');
      const counted = await run(name, messages);
      // Timing: every call held to its assumed latency, the destination answering after its own.
      dynamo.mode = 'timing';
      timing = true;
      await control(`delay/${LATENCY_MS.destination}`);
      const timed = await run(name, name === 'batched' ? BATCH_OF : TIMING_MESSAGES);
      phase(0);
      scenarios[name] = {
        name,
        description: SCENARIOS[name].description,
        messages,
        api: counted.api,
        delivery: counted.delivery,
        schedulerInvocations: counted.schedulerInvocations,
        delivered: counted.destination.delivered,
        destinationRequests: counted.destination.requests,
        destinationBytes: counted.destination.bytes,
        publishResponseBodyBytes: counted.responseBodyBytes,
        timing: timed.timing,
      };
    }
    const result: CostRun = { scenarios, latencyMs: LATENCY_MS };
    capture.print(JSON.stringify(result));
  } finally {
    backend.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
