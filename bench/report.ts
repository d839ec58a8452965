import type { ColdStartResults } from './cold-start/cold-start';
import { BENCH } from './config';
import type { CostRun } from './cost/cost-types';
import { LATENCY_MS, SCENARIO_NAMES } from './cost/cost-types';
import type { CostModel, CostModels } from './cost/model';
import { ASSUMPTIONS, fixedMonthly, PRICES } from './cost/model';
import { dollars, fixed, integer, kb, ratio, table } from './lib/markdown';
import type { E2eResult, PublishResult } from './load/protocol';
import type { MeasuredBurst, ThroughputResults } from './throughput';
import { FLOW_CONTROL_PARALLELISM } from './throughput';

/** 1 MiB, the code budget test/cdk/bundles.test.ts holds each function to. */
const MIB = 1024 * 1024;

export const GOALS = {
  publishVsBare: 0.35,
  e2eVsRelay: 0.5,
  publishVsBullmq: 1.0,
  deliveredVsBullmq: 1.5,
  pacedP99Ms: 50,
  bundleBytes: MIB,
  loadVsReference: 1.5,
  costPerMillionHttpApi: 3.0,
  costPerMillionFunctionUrl: 2.0,
} as const;

export type Target = {
  readonly target: string;
  readonly measured: string;
  readonly goal: string;
  readonly met: boolean;
};

export type BenchResults = {
  readonly startedAt: string;
  readonly environment: Record<string, string>;
  readonly throughput: ThroughputResults;
  readonly coldStart: ColdStartResults;
  readonly cost: { readonly run: CostRun; readonly models: CostModels };
  readonly targets: readonly Target[];
  readonly durationSec: number;
};

export function targetsOf(
  throughput: ThroughputResults,
  coldStart: ColdStartResults,
  cost: CostModels,
): Target[] {
  const { httpApi, functionUrl } = cost.byScenario.base;
  const { publish, e2e, bullmq } = throughput;
  const publishRatio = publish.sqstash.perSecond / publish.bare.perSecond;
  const e2eRatio = e2e.sqstash.perSecond / e2e.relay.perSecond;
  const largest = Math.max(...coldStart.handlers.map((bundle) => bundle.bytes));
  const largestZip = Math.max(...coldStart.handlers.map((bundle) => bundle.zipBytes));
  const slowest = Math.max(
    ...coldStart.handlers.map(
      (bundle) => bundle.loadWithSourceMapsMs / coldStart.reference.loadWithSourceMapsMs,
    ),
  );
  return [
    {
      target: 'Publish throughput vs bare node:http server',
      measured: `${ratio(publishRatio)} (${integer(publish.sqstash.perSecond)} vs ${integer(publish.bare.perSecond)} req/s)`,
      goal: `>= ${ratio(GOALS.publishVsBare)}`,
      met: publishRatio >= GOALS.publishVsBare,
    },
    {
      target: 'End-to-end delivered/s vs node:http relay',
      measured: `${ratio(e2eRatio)} (${integer(e2e.sqstash.perSecond)} vs ${integer(e2e.relay.perSecond)} msg/s)`,
      goal: `>= ${ratio(GOALS.e2eVsRelay)}`,
      met: e2eRatio >= GOALS.e2eVsRelay,
    },
    ...bullmqTargets(e2e, bullmq),
    {
      target: `p99 publish-to-arrival at ${BENCH.paced.rate} msg/s`,
      measured: `${fixed(e2e.sqstashPaced.latencyMs.p99)} ms (relay ${fixed(e2e.relayPaced.latencyMs.p99)} ms${bullmq.available ? `, BullMQ ${fixed(bullmq.paced.latencyMs.p99)} ms` : ''})`,
      goal: `< ${GOALS.pacedP99Ms} ms`,
      met: e2e.sqstashPaced.latencyMs.p99 < GOALS.pacedP99Ms && e2e.sqstashPaced.missing === 0,
    },
    {
      target: 'Largest Lambda bundle (minified, SDK bundled)',
      measured: `${kb(largest)} (deployment zip ${kb(largestZip)})`,
      goal: '< 1 MiB',
      met: largest < GOALS.bundleBytes,
    },
    {
      target: 'Slowest cold load vs SDK-only reference',
      measured: `${ratio(slowest)} (with --enable-source-maps, as deployed)`,
      goal: `<= ${ratio(GOALS.loadVsReference)}`,
      met: slowest <= GOALS.loadVsReference,
    },
    {
      target: `Modeled AWS cost per 1M delivered 1 KB messages, ${frontDoorName(httpApi)}`,
      measured: dollars(httpApi.perMillion),
      goal: `<= ${dollars(GOALS.costPerMillionHttpApi)}`,
      met: httpApi.perMillion <= GOALS.costPerMillionHttpApi,
    },
    {
      target: `Modeled AWS cost per 1M delivered 1 KB messages, ${frontDoorName(functionUrl)}`,
      measured: dollars(functionUrl.perMillion),
      goal: `<= ${dollars(GOALS.costPerMillionFunctionUrl)}`,
      met: functionUrl.perMillion <= GOALS.costPerMillionFunctionUrl,
    },
  ];
}

/** Publish and delivery throughput against BullMQ, both from the burst: delivery runs meanwhile. */
function bullmqTargets(
  e2e: ThroughputResults['e2e'],
  bullmq: ThroughputResults['bullmq'],
): Target[] {
  const publishTarget = 'Publish req/s vs BullMQ + Redis, delivery running';
  const deliveredTarget = 'End-to-end delivered/s vs BullMQ + Redis';
  if (!bullmq.available) {
    return [
      {
        target: publishTarget,
        measured: `not measured: ${bullmq.reason}`,
        goal: `>= ${ratio(GOALS.publishVsBullmq)}`,
        met: false,
      },
      {
        target: deliveredTarget,
        measured: `not measured: ${bullmq.reason}`,
        goal: `>= ${ratio(GOALS.deliveredVsBullmq)}`,
        met: false,
      },
    ];
  }
  const ours = e2e.sqstashBurst;
  const theirs = bullmq.burst;
  const publishRatio = ours.publishPerSecond / theirs.publishPerSecond;
  const deliveredRatio = ours.perSecond / theirs.perSecond;
  const intact = (result: E2eResult) => result.missing === 0 && result.duplicates === 0;
  return [
    {
      target: publishTarget,
      measured: `${ratio(publishRatio)} (${integer(ours.publishPerSecond)} vs ${integer(theirs.publishPerSecond)} req/s)`,
      goal: `>= ${ratio(GOALS.publishVsBullmq)}`,
      met: publishRatio >= GOALS.publishVsBullmq && intact(ours),
    },
    {
      target: deliveredTarget,
      measured: `${ratio(deliveredRatio)} (${integer(ours.perSecond)} vs ${integer(theirs.perSecond)} msg/s)`,
      goal: `>= ${ratio(GOALS.deliveredVsBullmq)}`,
      met: deliveredRatio >= GOALS.deliveredVsBullmq && intact(ours),
    },
  ];
}

/**
 * Where the burst's CPU went, and what the delivered/s goal against BullMQ asks of sqstash's
 * server: while the burst keeps the machine busy, delivered/s is its cores over the machine's
 * CPU per message, so the goal is a budget of machine CPU per message. The load generator and
 * sink take their part of it whatever the server; the rest is what the server may use.
 */
function burstCpuSection(throughput: ThroughputResults): string[] {
  const { relayBurst, sqstashBurst } = throughput.e2e;
  const bullmq = throughput.bullmq.available ? throughput.bullmq.burst : undefined;
  const row = (name: string, result: MeasuredBurst) => {
    const { serverUsPerMessage: server, machineUsPerMessage: machine } = result.cpu;
    return [
      name,
      integer(result.perSecond),
      integer(server),
      integer(machine),
      integer(machine - server),
      fixed((machine * result.perSecond) / 1e6),
    ];
  };
  const lines = [
    `## Where the burst's CPU goes: microseconds of CPU per message delivered, burst of ${integer(BENCH.burst.messages)}`,
    table(
      ['Server', 'delivered/s', 'server', 'whole machine', 'load generator and sink', 'cores busy'],
      [
        row('node:http relay (stores nothing)', relayBurst),
        row('sqstash (all threads)', sqstashBurst),
        ...(bullmq ? [row('BullMQ (its process + redis-server)', bullmq)] : []),
      ],
    ),
  ];
  if (!bullmq) return lines;
  const machineBudget = bullmq.cpu.machineUsPerMessage / GOALS.deliveredVsBullmq;
  const generatorShare = sqstashBurst.cpu.machineUsPerMessage - sqstashBurst.cpu.serverUsPerMessage;
  lines.push(
    `With the machine busy, ${ratio(GOALS.deliveredVsBullmq)} BullMQ's delivered/s leaves ${integer(machineBudget)} us of machine CPU per message; after the load generator's and sink's ${integer(generatorShare)}, sqstash's server may use ${integer(machineBudget - generatorShare)} us per message. It uses ${integer(sqstashBurst.cpu.serverUsPerMessage)}; the relay, which stores and signs nothing, ${integer(relayBurst.cpu.serverUsPerMessage)}.`,
  );
  return lines;
}

/** A load time, or n/a for a diagnostic bundle that did not load. */
function loadMs(value: number): string {
  return Number.isNaN(value) ? 'n/a' : fixed(value);
}

function publishRow(name: string, result: PublishResult, baseline: PublishResult): string[] {
  return [
    name,
    integer(result.perSecond),
    fixed(result.latencyMs.p50),
    fixed(result.latencyMs.p99),
    ratio(result.perSecond / baseline.perSecond),
    String(result.errors),
  ];
}

function e2eRow(name: string, result: E2eResult, baseline: E2eResult): string[] {
  return [
    name,
    integer(result.perSecond),
    fixed(result.latencyMs.p50),
    fixed(result.latencyMs.p99),
    ratio(result.perSecond / baseline.perSecond),
    `${result.errors}/${result.missing}/${result.duplicates}`,
  ];
}

export function renderMarkdown(results: BenchResults): string {
  const { throughput, coldStart, cost } = results;
  const { publish, e2e } = throughput;
  const env = Object.entries(results.environment)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
  const sections: string[] = [
    `# sqstash benchmark, ${results.startedAt}`,
    `${env}; ${fixed(results.durationSec, 0)} s in all. Loopback only; the load generator, each server and each baseline run in separate processes on the same (shared) machine, baselines measured in the same run.`,
    '## Targets',
    table(
      ['Target', 'Measured', 'Goal', 'Met'],
      results.targets.map((t) => [t.target, t.measured, t.goal, t.met ? 'yes' : 'NO']),
    ),
    `## Publish: ${BENCH.bodyBytes} B JSON, ${BENCH.connections} keep-alive connections, ${BENCH.publish.durationMs / 1000} s after ${BENCH.publish.warmupMs / 1000} s warm-up`,
    table(
      ['Server', 'req/s', 'p50 ms', 'p99 ms', 'vs bare', 'errors'],
      [
        publishRow('bare node:http server (ceiling)', publish.bare, publish.bare),
        publishRow('sqstash (SQLite, synchronous=NORMAL)', publish.sqstash, publish.bare),
        publishRow(
          'sqstash, synchronous=FULL (fsync per commit)',
          publish.sqstashFull,
          publish.bare,
        ),
      ],
    ),
    'sqstash stores each message due in a day (`Upstash-Delay: 1d`), so this is the publish path alone; the end-to-end runs below include delivery.',
    `## End-to-end: publish -> delivery to a 127.0.0.1 sink, ${BENCH.connections} connections`,
    table(
      ['Run', 'delivered/s', 'p50 ms', 'p99 ms', 'vs relay', 'err/missing/dup'],
      [
        e2eRow('node:http relay, unpaced (ceiling)', e2e.relay, e2e.relay),
        e2eRow('sqstash, unpaced', e2e.sqstash, e2e.relay),
        e2eRow(`node:http relay, ${BENCH.paced.rate}/s`, e2e.relayPaced, e2e.relayPaced),
        e2eRow(`sqstash, ${BENCH.paced.rate}/s`, e2e.sqstashPaced, e2e.relayPaced),
        e2eRow(
          `node:http relay, burst of ${integer(BENCH.burst.messages)}`,
          e2e.relayBurst,
          e2e.relayBurst,
        ),
        e2eRow(
          `sqstash, burst of ${integer(BENCH.burst.messages)}`,
          e2e.sqstashBurst,
          e2e.relayBurst,
        ),
        e2eRow(
          `sqstash, burst under one flow-control key (parallelism ${FLOW_CONTROL_PARALLELISM})`,
          e2e.sqstashBurstFlowControlled,
          e2e.relayBurst,
        ),
        ...(throughput.bullmq.available
          ? [
              e2eRow('BullMQ + Redis, unpaced', throughput.bullmq.closed, e2e.relay),
              e2eRow(
                `BullMQ + Redis, ${BENCH.paced.rate}/s`,
                throughput.bullmq.paced,
                e2e.relayPaced,
              ),
              e2eRow(
                `BullMQ + Redis, burst of ${integer(BENCH.burst.messages)}`,
                throughput.bullmq.burst,
                e2e.relayBurst,
              ),
            ]
          : [[`BullMQ + Redis: not measured, ${throughput.bullmq.reason}`, '', '', '', '', '']]),
      ],
    ),
    `## Publish with delivery running: the bursts above, ${BENCH.connections} connections`,
    table(
      ['Server', 'publish req/s', 'delivered/s', 'vs BullMQ (publish / delivered)'],
      [
        ['node:http relay (answers after delivery)', e2e.relayBurst, undefined] as const,
        [
          'sqstash',
          e2e.sqstashBurst,
          throughput.bullmq.available ? throughput.bullmq.burst : undefined,
        ] as const,
        [
          'sqstash, under one flow-control key',
          e2e.sqstashBurstFlowControlled,
          throughput.bullmq.available ? throughput.bullmq.burst : undefined,
        ] as const,
        ...(throughput.bullmq.available
          ? [['BullMQ + Redis', throughput.bullmq.burst, throughput.bullmq.burst] as const]
          : []),
      ].map(([name, result, baseline]) => [
        name,
        integer(result.publishPerSecond),
        integer(result.perSecond),
        baseline
          ? `${ratio(result.publishPerSecond / baseline.publishPerSecond)} / ${ratio(result.perSecond / baseline.perSecond)}`
          : '',
      ]),
    ),
    "BullMQ: bench/baselines/bullmq.ts, one Node process (an HTTP handler doing `queue.add`, a Worker of concurrency 64 POSTing each job to the sink; completed jobs removed, failed ones kept) on Debian's redis-server started by the bench with `appendonly yes`, `appendfsync everysec`. Publish req/s: answered publishes per second from the first sent to the last answered, while delivery runs in the same process.",
    `Unpaced: ${BENCH.connections} producers each publish and wait for their message to reach the sink before the next (${BENCH.connections} messages in flight, no backlog), ${BENCH.e2e.durationMs / 1000} s measured. Paced: open loop at ${BENCH.paced.rate}/s for ${BENCH.paced.durationMs / 1000} s, latency from each message's scheduled send time. Burst: ${integer(BENCH.burst.messages)} messages published as fast as the ${BENCH.connections} connections take them, without waiting for delivery, then drained; delivered/s from the first publish to the last arrival (its latency is mostly time spent in the backlog). Under one flow-control key the burst waits in the key's waitlist and goes through the gate; its parallelism equals the delivery concurrency, so the row shows what the gate costs, not a limit. The relay answers once the sink has answered. The target is judged on the unpaced row.`,
    ...burstCpuSection(throughput),
    '## Delivery client candidates (the relay baseline, unpaced)',
    table(
      ['Relay HTTP client', 'relayed/s', 'p50 ms', 'p99 ms', 'vs node:http'],
      Object.entries(throughput.relayClients).map(([client, result]) => [
        client,
        integer(result.perSecond),
        fixed(result.latencyMs.p50),
        fixed(result.latencyMs.p99),
        ratio(result.perSecond / throughput.relayClients['node-http'].perSecond),
      ]),
    ),
    `## Cold start: esbuild ${coldStart.target}, CJS, minified, AWS SDK bundled; median of ${coldStart.runs} fresh processes`,
    table(
      [
        'Bundle',
        'index.js',
        'source map',
        'zip',
        'load ms',
        'load ms (--enable-source-maps)',
        'vs reference',
        'largest parts',
      ],
      [coldStart.reference, ...coldStart.handlers, ...coldStart.attribution].map((bundle) => [
        bundle.name,
        kb(bundle.bytes),
        kb(bundle.sourceMapBytes),
        kb(bundle.zipBytes),
        loadMs(bundle.loadMs),
        loadMs(bundle.loadWithSourceMapsMs),
        ratio(bundle.loadWithSourceMapsMs / coldStart.reference.loadWithSourceMapsMs),
        bundle.largestParts.map((part) => `${part.name} ${kb(part.bytes)}`).join(', '),
      ]),
    ),
    'The last row is a diagnostic: the delivery bundle as `sqstash:tracing=true` builds it (the Tracer and the X-Ray SDK bundled), which the default stack leaves out. The targets are judged on the functions as deployed by default: size on the minified index.js (test/cdk/bundles.test.ts holds it under 1 MiB, and the zip, both files deflated, under 1 MB), load time with --enable-source-maps as the stack runs them (NODE_OPTIONS).',
    ...costSections(cost),
  ];
  const notes = limitNotes(results);
  if (notes.length > 0)
    sections.push(
      '## What limits the missed targets (from the numbers above)',
      notes.map((note) => `- ${note}`).join('\n'),
    );
  return `${sections.join('\n\n')}\n`;
}

/** Data-driven notes on each missed target: what the measurements say the limit is. */
function limitNotes(results: BenchResults): string[] {
  const { throughput, coldStart, cost } = results;
  const missed = new Set(results.targets.filter((t) => !t.met).map((t) => t.target));
  const notes: string[] = [];
  const has = (prefix: string) => [...missed].some((target) => target.startsWith(prefix));
  if (has('End-to-end')) {
    const clients = throughput.relayClients;
    notes.push(
      `End-to-end: the same relay relays ${ratio(clients['sqstash-client'].perSecond / clients['undici-request'].perSecond)} as fast with sqstash's delivery client as with a bare undici request() (fetch: ${ratio(clients.fetch.perSecond / clients['node-http'].perSecond)} of node:http). With a backlog (burst) sqstash delivers ${ratio(throughput.e2e.sqstashBurst.perSecond / throughput.e2e.relayBurst.perSecond)} of the relay.`,
    );
  }
  if (has('Publish')) {
    notes.push(
      `Publish: synchronous=FULL publishes ${ratio(throughput.publish.sqstashFull.perSecond / throughput.publish.sqstash.perSecond)} as fast as NORMAL (commits are grouped, so an fsync covers a batch).`,
    );
  }
  const slowest = [...coldStart.handlers].sort(
    (x, y) => y.loadWithSourceMapsMs - x.loadWithSourceMapsMs,
  )[0];
  if ((has('Largest Lambda bundle') || has('Slowest cold load')) && slowest) {
    notes.push(
      `Bundles: the slowest to load is ${slowest.name} (${kb(slowest.bytes)}, ${fixed(slowest.loadWithSourceMapsMs)} ms against the reference's ${fixed(coldStart.reference.loadWithSourceMapsMs)} ms); its largest parts: ${slowest.largestParts.map((part) => `${part.name} ${kb(part.bytes)}`).join(', ')}.`,
    );
  }
  for (const model of [
    cost.models.byScenario.base.httpApi,
    cost.models.byScenario.base.functionUrl,
  ]) {
    if (!has(`Modeled AWS cost per 1M delivered 1 KB messages, ${frontDoorName(model)}`)) continue;
    const top = [...model.lines].sort((x, y) => y.costPerMillion - x.costPerMillion).slice(0, 4);
    notes.push(
      `Cost (${frontDoorName(model)}): ${dollars(model.perMillion)}, most of it ${top.map((line) => `${line.line} ${dollars(line.costPerMillion)}`).join(', ')}.`,
    );
  }
  return notes;
}

/** How the report names a model's front door. */
function frontDoorName(model: CostModel): string {
  return model.frontDoor === 'httpApi' ? 'default stack (HTTP API)' : 'Function URL front door';
}

/** A difference in dollars, signed: +$0.10, -$0.10. */
function signedDollars(value: number): string {
  return `${value < 0 ? '-' : '+'}${dollars(Math.abs(value))}`;
}

/** The cost sections: the base message per line for both front doors, then what each adds. */
function costSections(cost: BenchResults['cost']): string[] {
  const { run, models } = cost;
  const base = run.scenarios.base;
  const { httpApi, functionUrl } = models.byScenario.base;
  const lineNames = httpApi.lines.map((line) => line.line);
  const costOf = (model: CostModel, name: string) =>
    model.lines.find((line) => line.line === name)?.costPerMillion;
  const fixed$ = fixedMonthly();
  const fixedTotal = fixed$.reduce((total, line) => total + line.costPerMonth, 0);
  const perMillionFixed = fixedTotal / (ASSUMPTIONS.messagesPerMonth / 1e6);
  return [
    `## AWS cost per 1M delivered ${BENCH.bodyBytes} B messages (us-east-1 list prices, no free tier): one publish per API call, delivered at the first attempt`,
    table(
      ['Line', 'Per message', 'Unit', 'HTTP API $/1M', 'Function URL $/1M', 'Basis'],
      [
        ...lineNames.map((name) => {
          const line = httpApi.lines.find((entry) => entry.line === name)!;
          const url = costOf(functionUrl, name);
          return [
            name,
            line.quantity < 0.001 ? line.quantity.toExponential(2) : fixed(line.quantity, 3),
            line.unit,
            dollars(line.costPerMillion, 3),
            url === undefined ? '-' : dollars(url, 3),
            line.note,
          ];
        }),
        [
          '**Total**',
          '',
          '',
          `**${dollars(httpApi.perMillion)}**`,
          `**${dollars(functionUrl.perMillion)}**`,
          '',
        ],
      ],
    ),
    'Behind the Function URL there is no API Gateway request and no access log line; the log line differs by that line alone.',
    table(
      ['Fixed monthly (not per message)', '$ per month'],
      [
        ...fixed$.map((line) => [line.line, dollars(line.costPerMonth)]),
        [
          `Per 1M with these spread over ${integer(ASSUMPTIONS.messagesPerMonth)} messages/month`,
          `+${dollars(perMillionFixed)}`,
        ],
      ],
    ),
    `## What each adds, per 1M messages, to the ${dollars(httpApi.perMillion)} (HTTP API) or ${dollars(functionUrl.perMillion)} (Function URL) of the base message`,
    table(
      [
        'Scenario: each message...',
        'HTTP API $/1M',
        'adds',
        'Function URL $/1M',
        'adds',
        'Where it goes',
      ],
      SCENARIO_NAMES.filter((name) => name !== 'base').map((name) => {
        const models$ = models.byScenario[name];
        const added = (model: CostModel, over: CostModel) => model.perMillion - over.perMillion;
        const grew = models$.httpApi.lines
          .map((line) => ({
            line: line.line,
            delta: line.costPerMillion - (costOf(httpApi, line.line) ?? 0),
          }))
          .filter((entry) => Math.abs(entry.delta) >= 0.005)
          .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta))
          .slice(0, 3)
          .map((entry) => `${entry.line} ${signedDollars(entry.delta)}`)
          .join(', ');
        return [
          run.scenarios[name].description,
          dollars(models$.httpApi.perMillion),
          signedDollars(added(models$.httpApi, httpApi)),
          dollars(models$.functionUrl.perMillion),
          signedDollars(added(models$.functionUrl, functionUrl)),
          grew,
        ];
      }),
    ),
    'DynamoDB writes per message, by item and scenario (writes / WRU):',
    table(
      ['Item', ...SCENARIO_NAMES],
      [
        ...new Set(
          SCENARIO_NAMES.flatMap((name) =>
            Object.keys(models.byScenario[name].httpApi.dynamoWritesByItem),
          ),
        ),
      ]
        .sort()
        .map((kind) => [
          kind,
          ...SCENARIO_NAMES.map((name) => {
            const writes = models.byScenario[name].httpApi.dynamoWritesByItem[kind];
            return writes ? `${fixed(writes.writes, 2)} / ${fixed(writes.wru, 2)}` : '-';
          }),
        ]),
    ),
    'AWS calls per message of the base message, as the handlers made them:',
    table(
      ['Function', 'Call', 'per message', 'WRU', 'RRU'],
      (['api', 'delivery'] as const).flatMap((phase) =>
        Object.entries(base[phase].calls).map(([name, totals]) => [
          phase === 'api' ? 'API' : 'delivery',
          name,
          fixed(totals.calls / base.messages, 2),
          fixed(totals.wru / base.messages, 2),
          fixed(totals.rru / base.messages, 2),
        ]),
      ),
    ),
    [
      `How: ${base.messages} messages per scenario published one after another through the API handler and delivered through the delivery handler in-process (so one instance of each, which writes at most one EMF line a second: at about ${integer(1000 / base.timing.api.meanWallMs)} publishes a second here, nearly none per message; below one invocation a second per instance every invocation writes one, about +$0.10 per million), on dynalite, a fake SQS queue playing the event source (batches of up to 10, ChangeMessageVisibility, DelaySeconds) and mocked Scheduler/Secrets Manager, with the default stack's environment; a middleware on the DynamoDB client counts every command and reads the items each write touched, before and after, to bill what DynamoDB would. The delayed scenario moves the clock on by an hour and fires each one-time schedule the functions created.`,
      `Durations: each AWS call held to an assumed latency (ms: ${Object.entries(LATENCY_MS)
        .map(([call, ms]) => `${call} ${ms}`)
        .join(
          ', ',
        )}), wall time measured per invocation over a second pass of each scenario, plus the handler's CPU time (base: ${fixed(base.timing.api.meanCpuMs)} ms per publish, ${fixed(base.timing.delivery.meanCpuMs)} ms per delivery invocation here) scaled to the function's CPU share (memory/${ASSUMPTIONS.fullVcpuMb} MB of a vCPU): API ${ASSUMPTIONS.apiMemoryMb} MB, ${httpApi.billedMs.api} ms; delivery ${ASSUMPTIONS.deliveryMemoryMb} MB, ${httpApi.billedMs.deliveryBatch} ms per invocation.`,
      `Prices: API Gateway HTTP ${dollars(PRICES.apiGatewayPerMillion)}/M; Lambda ${dollars(PRICES.lambdaRequestsPerMillion)}/M requests, arm64 $${PRICES.lambdaArmPerGbSecond}/GB-s; SQS ${dollars(PRICES.sqsPerMillion)}/M per 64 KB; DynamoDB ${dollars(PRICES.dynamoWruPerMillion, 3)}/M WRU, ${dollars(PRICES.dynamoRruPerMillion, 3)}/M RRU; EventBridge Scheduler ${dollars(PRICES.schedulerInvocationsPerMillion)}/M invocations; CloudWatch Logs ${dollars(PRICES.logsIngestionPerGb)}/GB; data transfer out ${dollars(PRICES.dataTransferOutPerGb)}/GB (aws-facts §1-§5, §10).`,
      `Assumed, not observed in-process: the event source receives each batch with one request and deletes it with one DeleteMessageBatch (${ASSUMPTIONS.esmRequestsPerBatch} requests per batch), and its batches are full (steady traffic); Lambda writes no START/END/REPORT lines (the stack's system log level is WARN); behind the HTTP API, API Gateway's access log line in the stack's format; ${ASSUMPTIONS.logEventOverheadBytes} B per log event; ${ASSUMPTIONS.apiResponseHeaderBytes} B of response headers per API call; cold starts on ${ASSUMPTIONS.coldStartFraction * 100}% of invocations; tracing off (the stack's default), so no X-Ray.`,
    ].join('\n\n'),
  ];
}
