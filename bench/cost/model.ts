/**
 * The cost of one million delivered 1 KB messages: quantities per message from the cost run
 * (what the handlers did in each scenario), list prices from aws-facts.md (us-east-1, no free
 * tier), and the stated assumptions for what the handlers do not do themselves (the SQS event
 * source's receives, Lambda's own log lines, API Gateway's access log). One model per front
 * door: the HTTP API (the default stack) and the Lambda Function URL, which has no per-request
 * price and writes no access log.
 */
import type { FrontDoor } from '../../lib/config';
import { ACCESS_LOG_FIELDS } from '../../lib/constructs/api';
import type { CostRun, PhaseCounts, ScenarioName, ScenarioRun } from './cost-types';
import { MEMORY_MB } from './cost-types';

/** us-east-1 list prices, aws-facts.md §1-§5 and §10. */
export const PRICES = {
  apiGatewayPerMillion: 1.0,
  lambdaRequestsPerMillion: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  sqsPerMillion: 0.4,
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
  schedulerInvocationsPerMillion: 1.0,
  logsIngestionPerGb: 0.5,
  dataTransferOutPerGb: 0.09,
  secretsManagerPerSecretMonth: 0.4,
  secretsManagerPer10kCalls: 0.05,
} as const;

/** What the bench cannot observe in-process, assumed. */
export const ASSUMPTIONS = {
  /** Lambda memory (lib/constructs/api.ts and delivery-pipeline.ts defaults). */
  apiMemoryMb: MEMORY_MB.api,
  deliveryMemoryMb: MEMORY_MB.delivery,
  /** Lambda allocates one vCPU at 1,769 MB and CPU in proportion below it. */
  fullVcpuMb: 1769,
  /**
   * The event source receives each batch with one ReceiveMessage and deletes it with one
   * DeleteMessageBatch; at steady traffic its batches are full (the cost run's are, but for a
   * FIFO queue of parallelism 1, where each message is its own batch).
   */
  esmRequestsPerBatch: 2,
  /** Cold starts per invocation (AWS: usually under 1%). */
  coldStartFraction: 0.01,
  /**
   * Lambda's own log lines per invocation: none, since the stack sets the system log level to
   * WARN (lib/constructs/sqstash-function.ts); START, END and REPORT would be about 260 bytes.
   */
  platformLogBytesPerInvocation: 0,
  platformLogEventsPerInvocation: 0,
  /** CloudWatch counts each log event's message plus 26 bytes. */
  logEventOverheadBytes: 26,
  /** The response headers to the publisher (date, content-type, a request id...). */
  apiResponseHeaderBytes: 250,
  /** Idle long polls: 5 pollers per event source, 2 sources, one 20 s poll each. */
  idlePollsPerMonth: 2 * 5 * 3 * 60 * 24 * 30,
  /** The reconcile pass's schedule: every 10 minutes, one invocation and one delivery batch. */
  reconcilePassesPerMonth: 6 * 24 * 30,
  secrets: 2,
  /** Secrets read at a cold start: the API the token (the keys at their first use), the delivery the keys. */
  apiSecretReads: 1,
  deliverySecretReads: 1,
  /**
   * Each delivery instance re-reads the signing keys once a minute while it is invoked
   * (KEY_REFRESH_MS): at most this many reads a month for one instance kept busy all month.
   */
  keyRefreshesPerInstanceMonth: 60 * 24 * 30,
  /** Monthly volume the fixed costs are spread over, as in aws-facts §10. */
  messagesPerMonth: 1_000_000,
} as const;

/** Values of the access log's variables for a publish, to size the stack's line. */
const ACCESS_LOG_SAMPLE: Record<string, string> = {
  '$context.requestId': 'J4wz1jKLoAMEMkw=',
  '$context.requestTimeEpoch': '1795420800000',
  '$context.identity.sourceIp': '203.0.113.9',
  '$context.identity.userAgent': 'upstash-qstash-js',
  '$context.httpMethod': 'POST',
  '$context.status': '200',
  '$context.integration.latency': '30',
  '$context.integrationErrorMessage': '-',
};

/** API Gateway's access log line in the stack's format (lib/constructs/api.ts), filled in. */
function accessLogLineBytes(pathBytes: number): number {
  const line = Object.fromEntries(
    Object.entries(ACCESS_LOG_FIELDS).map(([field, variable]) => [
      field,
      variable === '$context.path' ? 'x'.repeat(pathBytes) : (ACCESS_LOG_SAMPLE[variable] ?? ''),
    ]),
  );
  return Buffer.byteLength(JSON.stringify(line));
}

export type CostLine = {
  readonly line: string;
  /** Per delivered message. */
  readonly quantity: number;
  readonly unit: string;
  readonly costPerMillion: number;
  readonly note: string;
};

export type CostModel = {
  readonly scenario: ScenarioName;
  readonly frontDoor: FrontDoor;
  readonly lines: readonly CostLine[];
  readonly perMillion: number;
  /** Billed durations the model used (ms). */
  readonly billedMs: { readonly api: number; readonly deliveryBatch: number };
  /** DynamoDB writes per message by item kind. */
  readonly dynamoWritesByItem: Record<string, { writes: number; wru: number }>;
};

/** The fixed monthly costs, which do not grow with messages. */
export function fixedMonthly(): { line: string; costPerMonth: number }[] {
  return [
    {
      line: `SQS idle long polls (${ASSUMPTIONS.idlePollsPerMonth.toLocaleString('en-US')}/month)`,
      costPerMonth: (ASSUMPTIONS.idlePollsPerMonth / 1e6) * PRICES.sqsPerMillion,
    },
    {
      line: `Reconcile pass every 10 minutes (${ASSUMPTIONS.reconcilePassesPerMonth.toLocaleString('en-US')} schedule invocations and delivery batches)`,
      costPerMonth:
        (ASSUMPTIONS.reconcilePassesPerMonth / 1e6) *
        (PRICES.schedulerInvocationsPerMillion +
          PRICES.lambdaRequestsPerMillion +
          3 * PRICES.sqsPerMillion),
    },
    {
      line: `Secrets Manager (${ASSUMPTIONS.secrets} secrets)`,
      costPerMonth: ASSUMPTIONS.secrets * PRICES.secretsManagerPerSecretMonth,
    },
    {
      line: `Signing-key refresh, one delivery instance busy all month (${ASSUMPTIONS.keyRefreshesPerInstanceMonth.toLocaleString('en-US')} reads)`,
      costPerMonth:
        (ASSUMPTIONS.keyRefreshesPerInstanceMonth / 1e4) * PRICES.secretsManagerPer10kCalls,
    },
  ];
}

function sum(
  phases: readonly PhaseCounts[],
  pick: (totals: PhaseCounts['calls'][string]) => number,
): number {
  let total = 0;
  for (const phase of phases) {
    for (const totals of Object.values(phase.calls)) total += pick(totals);
  }
  return total;
}

/** Wall time under the latency model, plus the CPU time scaled to the function's CPU share. */
function billed(wallMs: number, cpuMs: number, memoryMb: number): number {
  return Math.ceil(wallMs + cpuMs * Math.max(0, ASSUMPTIONS.fullVcpuMb / memoryMb - 1));
}

export function costModel(
  run: ScenarioRun,
  frontDoor: FrontDoor,
  initMs: { api: number; delivery: number },
): CostModel {
  const n = run.messages;
  const phases = [run.api, run.delivery];
  const perMessage = (value: number) => value / n;
  const lines: CostLine[] = [];
  const add = (
    line: string,
    quantity: number,
    unit: string,
    costPerMillion: number,
    note: string,
  ) => lines.push({ line, quantity, unit, costPerMillion, note });

  const apiInvocations = perMessage(run.api.invocations);
  const deliveryInvocations = perMessage(run.delivery.invocations);
  if (frontDoor === 'httpApi') {
    add(
      'API Gateway HTTP API',
      apiInvocations,
      'requests',
      apiInvocations * PRICES.apiGatewayPerMillion,
      '$1.00/M',
    );
  }
  add(
    'Lambda requests: API',
    apiInvocations,
    'invocations',
    apiInvocations * PRICES.lambdaRequestsPerMillion,
    '$0.20/M',
  );
  add(
    'Lambda requests: delivery',
    deliveryInvocations,
    'invocations',
    deliveryInvocations * PRICES.lambdaRequestsPerMillion,
    `${(1 / deliveryInvocations).toFixed(1)} messages per batch`,
  );

  const apiMs = billed(
    run.timing.api.meanWallMs,
    run.timing.api.meanCpuMs,
    ASSUMPTIONS.apiMemoryMb,
  );
  const batchMs = billed(
    run.timing.delivery.meanWallMs,
    run.timing.delivery.meanCpuMs,
    ASSUMPTIONS.deliveryMemoryMb,
  );
  const gbS = (ms: number, mb: number) => (ms / 1000) * (mb / 1024);
  const apiGbS = apiInvocations * gbS(apiMs, ASSUMPTIONS.apiMemoryMb);
  const deliveryGbS = deliveryInvocations * gbS(batchMs, ASSUMPTIONS.deliveryMemoryMb);
  add(
    'Lambda duration: API',
    apiGbS,
    'GB-s',
    apiGbS * PRICES.lambdaArmPerGbSecond * 1e6,
    `${ASSUMPTIONS.apiMemoryMb} MB x ${apiMs} ms billed`,
  );
  add(
    'Lambda duration: delivery',
    deliveryGbS,
    'GB-s',
    deliveryGbS * PRICES.lambdaArmPerGbSecond * 1e6,
    `${ASSUMPTIONS.deliveryMemoryMb} MB x ${batchMs} ms per invocation`,
  );
  const initGbS =
    ASSUMPTIONS.coldStartFraction *
    (apiInvocations * gbS(initMs.api, ASSUMPTIONS.apiMemoryMb) +
      deliveryInvocations * gbS(initMs.delivery, ASSUMPTIONS.deliveryMemoryMb));
  add(
    'Lambda INIT (cold starts)',
    initGbS,
    'GB-s',
    initGbS * PRICES.lambdaArmPerGbSecond * 1e6,
    `${ASSUMPTIONS.coldStartFraction * 100}% of invocations, load + secrets`,
  );

  const sqsSent = perMessage(run.api.sqsBilledRequests + run.delivery.sqsBilledRequests);
  add(
    'SQS requests by the functions',
    sqsSent,
    'requests',
    sqsSent * PRICES.sqsPerMillion,
    'SendMessageBatch etc., per 64 KB',
  );
  const esm = deliveryInvocations * ASSUMPTIONS.esmRequestsPerBatch;
  add(
    'SQS receive + delete by the event source',
    esm,
    'requests',
    esm * PRICES.sqsPerMillion,
    `${ASSUMPTIONS.esmRequestsPerBatch} per batch`,
  );
  const scheduled = perMessage(run.schedulerInvocations);
  if (scheduled > 0) {
    add(
      'EventBridge Scheduler invocations',
      scheduled,
      'invocations',
      scheduled * PRICES.schedulerInvocationsPerMillion,
      'one-time schedules, $1.00/M',
    );
  }

  const wru = perMessage(sum(phases, (t) => t.wru));
  const rru = perMessage(sum(phases, (t) => t.rru));
  add('DynamoDB writes', wru, 'WRU', wru * PRICES.dynamoWruPerMillion, '1/KB, transactions 2x');
  add('DynamoDB reads', rru, 'RRU', rru * PRICES.dynamoRruPerMillion, '4 KB, consistent 1x');

  const pathBytes = `/v2/publish/https://example.com/hooks/order`.length;
  // The API's answers (a batch's answer covers its messages).
  const responseBytesPerMessage = perMessage(run.publishResponseBodyBytes);
  const invocations = apiInvocations + deliveryInvocations;
  const accessLogs = frontDoor === 'httpApi' ? apiInvocations : 0;
  const logEvents =
    perMessage(run.api.logEvents + run.delivery.logEvents) +
    invocations * ASSUMPTIONS.platformLogEventsPerInvocation +
    accessLogs;
  const logBytes =
    perMessage(run.api.logBytes + run.delivery.logBytes) +
    invocations * ASSUMPTIONS.platformLogBytesPerInvocation +
    accessLogs * accessLogLineBytes(pathBytes) +
    logEvents * ASSUMPTIONS.logEventOverheadBytes;
  add(
    'CloudWatch Logs (incl. EMF)',
    logBytes / 1e9,
    'GB',
    (logBytes / 1e9) * PRICES.logsIngestionPerGb * 1e6,
    `${Math.round(logBytes)} B/message`,
  );

  const outBytes =
    perMessage(run.destinationBytes) +
    responseBytesPerMessage +
    apiInvocations * ASSUMPTIONS.apiResponseHeaderBytes;
  add(
    'Data transfer out',
    outBytes / 1e9,
    'GB',
    (outBytes / 1e9) * PRICES.dataTransferOutPerGb * 1e6,
    `${Math.round(outBytes)} B/message`,
  );

  const secretCalls =
    ASSUMPTIONS.coldStartFraction *
    (apiInvocations * ASSUMPTIONS.apiSecretReads +
      deliveryInvocations * ASSUMPTIONS.deliverySecretReads);
  add(
    'Secrets Manager API',
    secretCalls,
    'calls',
    (secretCalls * PRICES.secretsManagerPer10kCalls * 1e6) / 1e4,
    'at cold starts',
  );

  const byItem: CostModel['dynamoWritesByItem'] = {};
  for (const phase of phases) {
    for (const [kind, writes] of Object.entries(phase.itemWrites)) {
      const entry = byItem[kind] ?? { writes: 0, wru: 0 };
      byItem[kind] = entry;
      entry.writes += writes.writes / n;
      entry.wru += writes.wru / n;
    }
  }
  return {
    scenario: run.name,
    frontDoor,
    lines,
    perMillion: lines.reduce((total, line) => total + line.costPerMillion, 0),
    billedMs: { api: apiMs, deliveryBatch: batchMs },
    dynamoWritesByItem: byItem,
  };
}

/** Every scenario's model behind both front doors. */
export type CostModels = {
  readonly byScenario: Record<ScenarioName, Record<FrontDoor, CostModel>>;
};

export function costModels(run: CostRun, initMs: { api: number; delivery: number }): CostModels {
  const byScenario = {} as CostModels['byScenario'];
  for (const [name, scenario] of Object.entries(run.scenarios) as [ScenarioName, ScenarioRun][]) {
    byScenario[name] = {
      httpApi: costModel(scenario, 'httpApi', initMs),
      functionUrl: costModel(scenario, 'functionUrl', initMs),
    };
  }
  return { byScenario };
}
