/**
 * `npm run bench`: throughput, latency, cold start and cost per million, each against its
 * baseline, in under five minutes, loopback only. Prints the tables and writes them as JSON and
 * Markdown to bench/results/<timestamp>.{json,md} and bench/results/latest.{json,md}.
 *
 * Not part of `npm test`: the numbers depend on the machine, so targets are reported, never
 * asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchColdStart } from './cold-start/cold-start';
import { runCost } from './cost/cost';
import { LATENCY_MS } from './cost/cost-types';
import { costModels } from './cost/model';
import { ROOT } from './lib/processes';
import type { BenchResults } from './report';
import { renderMarkdown, targetsOf } from './report';
import { benchThroughput } from './throughput';

const RESULTS_DIR = join(ROOT, 'bench', 'results');

function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const log = (line: string) =>
    console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);

  const throughput = await benchThroughput(log);
  const coldStart = await benchColdStart(log);
  const run = await runCost(log);
  const loadOf = (name: string) =>
    coldStart.handlers.find((bundle) => bundle.name === name)?.loadWithSourceMapsMs ?? 0;
  const models = costModels(run, {
    api: loadOf('api') + LATENCY_MS.SecretsManager,
    delivery: loadOf('delivery') + LATENCY_MS.SecretsManager,
  });

  const results: BenchResults = {
    startedAt,
    environment: {
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'unknown'}`,
      git: gitRevision(),
    },
    throughput,
    coldStart,
    cost: { run, models },
    targets: targetsOf(throughput, coldStart, models),
    durationSec: (performance.now() - started) / 1000,
  };
  const markdown = renderMarkdown(results);
  console.log(`\n${markdown}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(results, null, 2)}\n`;
  for (const name of [stamp, 'latest']) {
    writeFileSync(join(RESULTS_DIR, `${name}.json`), json);
    writeFileSync(join(RESULTS_DIR, `${name}.md`), markdown);
  }
  log(`wrote bench/results/${stamp}.{json,md} and latest.{json,md}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
