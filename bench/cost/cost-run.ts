/**
 * The cost run (its own process): runs N messages through the real Lambda handlers in-process,
 * as test/aws/handlers.test.ts does (dynalite for DynamoDB, aws-sdk-client-mock for SQS,
 * Scheduler and Secrets Manager), with the default stack's environment, and counts what they
 * do per message: AWS calls by name with the capacity they consume, log bytes, bytes sent to
 * destinations. A second, shorter pass holds every AWS call to an assumed latency and measures
 * each invocation's wall and CPU time, for the Lambda duration model. Prints one JSON line.
 *
 * argv[2]: the number of messages.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
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
import { apiGatewayEvent, sqsEvent, sqsRecord } from '../../test/helpers/aws-events';
import { jsonBody } from '../config';
import { ROOT } from '../lib/processes';
import type { CostRun, PhaseCounts, TimingStats } from './cost-types';
import { LATENCY_MS, MEMORY_MB } from './cost-types';
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
/** The ESM hands the delivery function batches of this many (lib/constructs/delivery-pipeline.ts). */
const BATCH_SIZE = 10;
const SQS_CHUNK_BYTES = 64 * 1024;
/** Publishes (and their batches) timed under the latency model. */
const TIMING_MESSAGES = 50;
const latency: LatencyModel = (service, command) =>
  (LATENCY_MS as Record<string, number>)[`${service}:${command}`] ??
  (LATENCY_MS as Record<string, number>)[service] ??
  10;

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
  const sent: string[] = [];
  const sqs = mockClient(SQSClient);
  sqs.on(SendMessageCommand).callsFake(async (input: { MessageBody: string }) => {
    sent.push(input.MessageBody);
    await pad('SQS', 'SendMessage');
    return { MessageId: `sqs-${sent.length}` };
  });
  sqs
    .on(SendMessageBatchCommand)
    .callsFake(async (input: { Entries: { Id: string; MessageBody: string }[] }) => {
      for (const entry of input.Entries) sent.push(entry.MessageBody);
      await pad('SQS', 'SendMessageBatch');
      return { Successful: input.Entries.map((entry) => ({ Id: entry.Id, MessageId: entry.Id })) };
    });
  sqs.on(ChangeMessageVisibilityCommand).callsFake(async () => {
    await pad('SQS', 'ChangeMessageVisibility');
    return {};
  });
  const scheduler = mockClient(SchedulerClient);
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
  scheduler.on(DeleteScheduleCommand).resolves({});
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

  // Imported only now: Powertools and the composition root read the environment at load.
  const api = require('../../lambdas/aws/handlers/api') as {
    handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
  };
  const delivery = require('../../lambdas/aws/handlers/delivery') as {
    handler: (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
  };
  const apiContext = context(MEMORY_MB.api);
  const deliveryContext = context(MEMORY_MB.delivery);
  const control = (path: string) =>
    fetch(`${backend.destination}/control/${path}`, { method: 'POST' }).then(
      (response) => response.json() as Promise<{ requests: number; bytes: number }>,
    );

  const body = jsonBody();
  let responseBodyBytes = 0;
  const publishOne = async () => {
    const result = await api.handler(
      apiGatewayEvent({
        method: 'POST',
        rawPath: `/v2/publish/${backend.destination}/hook`,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      }),
      apiContext,
    );
    if (result.statusCode !== 200)
      throw new Error(`publish answered ${result.statusCode}: ${result.body}`);
    responseBodyBytes += Buffer.byteLength(result.body ?? '');
  };
  let sqsSequence = 0;
  const deliverSent = async (): Promise<number> => {
    const bodies = sent.splice(0);
    let failures = 0;
    for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
      const records = bodies.slice(start, start + BATCH_SIZE).map((entry) => {
        sqsSequence += 1;
        return sqsRecord({
          body: entry,
          sqsMessageId: `sqs-${sqsSequence}`,
          sentAt: Date.now() - 1_000,
        });
      });
      const response = await delivery.handler(sqsEvent(records), deliveryContext);
      failures += response.batchItemFailures.length;
    }
    return failures;
  };
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

  const capture = new LogCapture();
  capture.start();
  try {
    // Cold start of both functions: the secrets, read once per instance.
    dynamo.mode = 'count';
    await publishOne();
    await deliverSent();
    const init = phase(2);
    await control('reset');
    responseBodyBytes = 0;

    for (let i = 0; i < messages; i += 1) await publishOne();
    const publish = phase(messages);
    const batches = Math.ceil(sent.length / BATCH_SIZE);
    const failures = await deliverSent();
    const deliveryCounts = phase(batches);
    const destination = await control('stats');
    if (failures > 0 || destination.requests !== messages) {
      throw new Error(
        `${destination.requests} of ${messages} delivered, ${failures} batch item failures`,
      );
    }

    // Timing: every call held to its assumed latency, the destination answering after its own.
    dynamo.mode = 'timing';
    timing = true;
    await control(`delay/${LATENCY_MS.destination}`);
    const measure = async (run: () => Promise<unknown>) => {
      const cpu = process.cpuUsage();
      const startedAt = performance.now();
      await run();
      const used = process.cpuUsage(cpu);
      return { wallMs: performance.now() - startedAt, cpuMs: (used.user + used.system) / 1000 };
    };
    const publishTimes = [];
    for (let i = 0; i < TIMING_MESSAGES; i += 1) publishTimes.push(await measure(publishOne));
    const deliveryTimes = [];
    const bodies = sent.splice(0);
    for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
      sent.push(...bodies.slice(start, start + BATCH_SIZE));
      deliveryTimes.push(await measure(deliverSent));
    }
    const stats = (times: { wallMs: number; cpuMs: number }[]): TimingStats => ({
      invocations: times.length,
      meanWallMs: times.reduce((sum, t) => sum + t.wallMs, 0) / times.length,
      meanCpuMs: times.reduce((sum, t) => sum + t.cpuMs, 0) / times.length,
    });

    const result: CostRun = {
      messages,
      publish,
      delivery: deliveryCounts,
      init,
      delivered: destination.requests,
      destinationRequests: destination.requests,
      destinationBytes: destination.bytes,
      publishResponseBodyBytes: responseBodyBytes,
      timing: { publish: stats(publishTimes), delivery: stats(deliveryTimes) },
      latencyMs: LATENCY_MS,
    };
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
