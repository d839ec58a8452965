/**
 * The cost of one million delivered 1 KB messages on the default stack: quantities per message
 * from the cost run (what the handlers did), list prices from aws-facts.md (us-east-1, no free
 * tier, no retries), and the stated assumptions for what the handlers do not do themselves
 * (the SQS event source's receives, Lambda's own log lines, API Gateway's access log).
 */
import type { CostRun, PhaseCounts } from './cost-types';
import { MEMORY_MB } from './cost-types';

/** us-east-1 list prices, aws-facts.md §1-§5 and §10. */
export const PRICES = {
  apiGatewayPerMillion: 1.0,
  lambdaRequestsPerMillion: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  sqsPerMillion: 0.4,
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
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
  /** The ESM receives full batches (steady traffic) and deletes each with one DeleteMessageBatch. */
  esmRequestsPerBatch: 2,
  /** Cold starts per invocation (AWS: usually under 1%). */
  coldStartFraction: 0.01,
  /** START, END and REPORT lines Lambda writes per invocation (bytes). */
  platformLogBytesPerInvocation: 260,
  platformLogEventsPerInvocation: 3,
  /** CloudWatch counts each log event's message plus 26 bytes. */
  logEventOverheadBytes: 26,
  /** API Gateway's response headers to the publisher (date, content-type, apigw-requestid...). */
  apiResponseHeaderBytes: 250,
  /** Idle long polls: 5 pollers per event source (MaximumConcurrency keeps them from scaling to 2), 2 sources, one 20 s poll each. */
  idlePollsPerMonth: 2 * 5 * 3 * 60 * 24 * 30,
  secrets: 2,
  /** Monthly volume the fixed costs are spread over, as in aws-facts §10. */
  messagesPerMonth: 1_000_000,
} as const;

/** API Gateway's access log line, in the stack's format (lib/constructs/api.ts), filled in. */
function accessLogLineBytes(pathBytes: number, responseBytes: number): number {
  return Buffer.byteLength(
    JSON.stringify({
      requestId: 'J4wz1jKLoAMEMkw=',
      requestTime: '23/Nov/2026:08:00:00 +0000',
      ip: '203.0.113.9',
      userAgent: 'upstash-qstash-js',
      httpMethod: 'POST',
      path: 'x'.repeat(pathBytes),
      routeKey: 'ANY /v2/{proxy+}',
      status: '200',
      protocol: 'HTTP/1.1',
      responseLength: String(responseBytes),
      integrationLatency: '30',
      integrationError: '-',
    }),
  );
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
  readonly lines: readonly CostLine[];
  readonly perMillion: number;
  /** Monthly costs that do not grow with messages. */
  readonly fixedMonthly: readonly { readonly line: string; readonly costPerMonth: number }[];
  /** perMillion plus the fixed costs spread over ASSUMPTIONS.messagesPerMonth. */
  readonly perMillionWithFixed: number;
  /** Billed durations the model used (ms). */
  readonly billedMs: { readonly api: number; readonly deliveryBatch: number };
  /** DynamoDB writes per message by item kind. */
  readonly dynamoWritesByItem: Record<string, { writes: number; wru: number; indexWru: number }>;
};

function sum(
  phases: readonly PhaseCounts[],
  pick: (totals: PhaseCounts['calls'][string], name: string) => number,
): number {
  let total = 0;
  for (const phase of phases) {
    for (const [name, totals] of Object.entries(phase.calls)) total += pick(totals, name);
  }
  return total;
}

/** Wall time under the latency model, plus the CPU time scaled to the function's CPU share. */
function billed(wallMs: number, cpuMs: number, memoryMb: number): number {
  return Math.ceil(wallMs + cpuMs * (ASSUMPTIONS.fullVcpuMb / memoryMb - 1));
}

export function costModel(run: CostRun, initMs: { api: number; delivery: number }): CostModel {
  const n = run.messages;
  const phases = [run.publish, run.delivery];
  const perMessage = (value: number) => value / n;
  const lines: CostLine[] = [];
  const add = (
    line: string,
    quantity: number,
    unit: string,
    costPerMillion: number,
    note: string,
  ) => lines.push({ line, quantity, unit, costPerMillion, note });

  add(
    'API Gateway HTTP API',
    perMessage(run.publish.invocations),
    'requests',
    perMessage(run.publish.invocations) * PRICES.apiGatewayPerMillion,
    '$1.00/M',
  );

  const apiInvocations = perMessage(run.publish.invocations);
  const deliveryInvocations = perMessage(run.delivery.invocations);
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
    'batches of 10',
  );

  const apiMs = billed(
    run.timing.publish.meanWallMs,
    run.timing.publish.meanCpuMs,
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
    `${ASSUMPTIONS.deliveryMemoryMb} MB x ${batchMs} ms per batch`,
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

  const sqsSent = perMessage(run.publish.sqsBilledRequests + run.delivery.sqsBilledRequests);
  add(
    'SQS requests by the functions',
    sqsSent,
    'requests',
    sqsSent * PRICES.sqsPerMillion,
    'SendMessage etc., per 64 KB',
  );
  const esm = deliveryInvocations * ASSUMPTIONS.esmRequestsPerBatch;
  add(
    'SQS receive + delete by the ESM',
    esm,
    'requests',
    esm * PRICES.sqsPerMillion,
    'full batches of 10',
  );

  const wru = perMessage(sum(phases, (t) => t.wru));
  const indexWru = perMessage(sum(phases, (t) => t.indexWru));
  const rru = perMessage(sum(phases, (t) => t.rru));
  add(
    'DynamoDB writes: table',
    wru,
    'WRU',
    wru * PRICES.dynamoWruPerMillion,
    '1/KB, transactions 2x',
  );
  add(
    'DynamoDB writes: gsi1',
    indexWru,
    'WRU',
    indexWru * PRICES.dynamoWruPerMillion,
    'projection ALL',
  );
  add('DynamoDB reads', rru, 'RRU', rru * PRICES.dynamoRruPerMillion, '4 KB, consistent');

  const pathBytes = `/v2/publish/https://example.com/hooks/order`.length;
  const responseBytes = run.publishResponseBodyBytes / n;
  const invocations = apiInvocations + deliveryInvocations;
  const logEvents =
    perMessage(run.publish.logEvents + run.delivery.logEvents) +
    invocations * ASSUMPTIONS.platformLogEventsPerInvocation +
    apiInvocations;
  const logBytes =
    perMessage(run.publish.logBytes + run.delivery.logBytes) +
    invocations * ASSUMPTIONS.platformLogBytesPerInvocation +
    apiInvocations * accessLogLineBytes(pathBytes, responseBytes) +
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
    apiInvocations * (responseBytes + ASSUMPTIONS.apiResponseHeaderBytes);
  add(
    'Data transfer out',
    outBytes / 1e9,
    'GB',
    (outBytes / 1e9) * PRICES.dataTransferOutPerGb * 1e6,
    `${Math.round(outBytes)} B/message`,
  );

  const secretCalls = ASSUMPTIONS.coldStartFraction * invocations * ASSUMPTIONS.secrets;
  add(
    'Secrets Manager API',
    secretCalls,
    'calls',
    (secretCalls * PRICES.secretsManagerPer10kCalls * 1e6) / 1e4,
    'at cold starts',
  );

  const perMillion = lines.reduce((total, line) => total + line.costPerMillion, 0);
  const fixedMonthly = [
    {
      line: `SQS idle long polls (${ASSUMPTIONS.idlePollsPerMonth.toLocaleString('en-US')}/month)`,
      costPerMonth: (ASSUMPTIONS.idlePollsPerMonth / 1e6) * PRICES.sqsPerMillion,
    },
    {
      line: `Secrets Manager (${ASSUMPTIONS.secrets} secrets)`,
      costPerMonth: ASSUMPTIONS.secrets * PRICES.secretsManagerPerSecretMonth,
    },
  ];
  const fixed = fixedMonthly.reduce((total, line) => total + line.costPerMonth, 0);
  const byItem: CostModel['dynamoWritesByItem'] = {};
  for (const phase of phases) {
    for (const [kind, writes] of Object.entries(phase.itemWrites)) {
      const entry = byItem[kind] ?? { writes: 0, wru: 0, indexWru: 0 };
      byItem[kind] = entry;
      entry.writes += writes.writes / n;
      entry.wru += writes.wru / n;
      entry.indexWru += writes.indexWru / n;
    }
  }
  return {
    lines,
    perMillion,
    fixedMonthly,
    perMillionWithFixed: perMillion + fixed / (ASSUMPTIONS.messagesPerMonth / 1e6),
    billedMs: { api: apiMs, deliveryBatch: batchMs },
    dynamoWritesByItem: byItem,
  };
}
