/**
 * A/B: the same load against the embedded server of two checkouts, interleaved in one run, so
 * that a change is measured against what it replaced on the same (shared, noisy) machine.
 *
 *   node --import tsx bench/ab.ts <A> <B> [--rounds 4] [--jobs publish,burst,closed,paced] [--warm]
 *
 * `--warm` runs each job once unmeasured on the server first: a fresh server spends a burst's
 * first seconds compiling (on V8's helper threads, about a sixth of its CPU then), which the
 * bench's runs, coming after others on the same server, do not.
 *
 * A and B are git revisions, or `.` for the working tree. Each revision is checked out into a
 * temporary worktree (sharing this node_modules) and removed after. Rounds alternate the order
 * (A B, B A, ...), and each job prints every round's figures, B/A, and the median and range of
 * B/A over the rounds: the spread is the noise. Besides throughput, each job reports the
 * server's CPU time (user + system, all its threads, from /proc) per message: on a machine
 * shared with other work, throughput moves with their load, CPU per message much less.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { processCpuMs } from './lib/cpu';
import { fixed, integer } from './lib/markdown';
import { ROOT, startSqstash, withServer } from './lib/processes';
import { burstRun, closedRun, pacedRun, publishRun } from './throughput';

type Figure = { readonly name: string; readonly value: number; readonly higherIsBetter: boolean };
/** Runs the load; says how many messages it put through, for the CPU per message. */
type Job = (url: string) => Promise<{ figures: Figure[]; messages: number }>;

const JOBS: Record<string, Job> = {
  publish: async (url) => {
    const result = await publishRun(url);
    return {
      figures: [
        { name: 'publish req/s (deferred)', value: result.perSecond, higherIsBetter: true },
      ],
      messages: result.requests,
    };
  },
  burst: async (url) => {
    const result = await burstRun(url);
    if (result.missing > 0 || result.duplicates > 0) {
      console.log(
        `burst: ${result.missing} not arrived by the deadline, ${result.duplicates} twice`,
      );
    }
    return {
      figures: [
        { name: 'burst publish/s', value: result.publishPerSecond, higherIsBetter: true },
        { name: 'burst delivered/s', value: result.perSecond, higherIsBetter: true },
      ],
      messages: result.delivered,
    };
  },
  closed: async (url) => {
    const result = await closedRun(url);
    return {
      figures: [{ name: 'closed-loop delivered/s', value: result.perSecond, higherIsBetter: true }],
      messages: result.published,
    };
  },
  paced: async (url) => {
    const result = await pacedRun(url);
    return {
      figures: [{ name: 'p99 ms at 500/s', value: result.latencyMs.p99, higherIsBetter: false }],
      messages: result.published,
    };
  },
};

function checkout(revision: string): { root: string; remove(): void } {
  if (revision === '.') return { root: ROOT, remove: () => {} };
  const root = mkdtempSync(join(tmpdir(), 'sqstash-ab-'));
  execFileSync('git', ['worktree', 'add', '--detach', '--force', root, revision], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return {
    root,
    remove: () =>
      execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: ROOT, stdio: 'ignore' }),
  };
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '4' },
      jobs: { type: 'string', default: 'publish,burst,closed,paced' },
      warm: { type: 'boolean', default: false },
    },
  });
  const [a, b] = positionals;
  if (!a || !b) throw new Error('usage: bench/ab.ts <A> <B> [--rounds N] [--jobs ...] [--warm]');
  const jobs = values.jobs.split(',');
  for (const job of jobs) if (!JOBS[job]) throw new Error(`unknown job ${job}`);
  const sides = [
    { label: 'A', revision: a, ...checkout(a) },
    { label: 'B', revision: b, ...checkout(b) },
  ];
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const side of sides) side.remove();
      process.exit(1);
    });
  }
  const results = new Map<string, { a: number[]; b: number[]; higherIsBetter: boolean }>();
  try {
    for (let round = 0; round < Number(values.rounds); round += 1) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const job of jobs) {
        for (const side of order) {
          const figures = await withServer(
            () => startSqstash({}, side.root),
            async (server) => {
              if (values.warm) await JOBS[job]!(server.url);
              const before = processCpuMs(server.pid);
              const run = await JOBS[job]!(server.url);
              const cpuPerMessage = (processCpuMs(server.pid) - before) / run.messages;
              return [
                ...run.figures,
                {
                  name: `${job}: server CPU us/message`,
                  value: cpuPerMessage * 1000,
                  higherIsBetter: false,
                },
              ];
            },
          );
          for (const figure of figures) {
            const entry = results.get(figure.name) ?? {
              a: [],
              b: [],
              higherIsBetter: figure.higherIsBetter,
            };
            (side.label === 'A' ? entry.a : entry.b).push(figure.value);
            results.set(figure.name, entry);
            console.log(`round ${round + 1} ${side.label} ${figure.name}: ${fixed(figure.value)}`);
          }
        }
      }
    }
  } finally {
    for (const side of sides) side.remove();
  }
  console.log(`\nA = ${a}, B = ${b}, ${values.rounds} interleaved rounds`);
  for (const [name, { a: as, b: bs, higherIsBetter }] of results) {
    const ratios = as.map((value, index) => bs[index]! / value);
    const format = higherIsBetter ? integer : fixed;
    console.log(
      `${name}: A median ${format(median(as))}, B median ${format(median(bs))}; ` +
        `B/A median ${fixed(median(ratios), 2)}x (rounds ${ratios.map((r) => fixed(r, 2)).join(', ')})`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
