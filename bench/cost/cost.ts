import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BENCH } from '../config';
import { ROOT } from '../lib/processes';
import type { CostRun } from './cost-types';

/** Runs the handlers in a fresh process (bench/cost/cost-run.ts) and resolves with what they did. */
export async function runCost(log: (line: string) => void): Promise<CostRun> {
  log(`running ${BENCH.costMessages} messages through the Lambda handlers in-process`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/cost/cost-run.ts'), String(BENCH.costMessages)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.trim().split('\n').pop();
  if (code !== 0 || !line) throw new Error(`cost run failed (${code}):\n${stderr}${stdout}`);
  return JSON.parse(line) as CostRun;
}
