/**
 * Cold start: each Lambda handler bundled as the CDK stack bundles it (lib/constructs/
 * sqstash-function.ts: esbuild, CommonJS, minified, `module` before `main`, linked source map
 * without sources, the AWS SDK bundled, nothing external, the target the function's runtime,
 * tracing off as by default),
 * its size, and how long a fresh Node process takes to load it, next to a reference bundle that
 * holds only the same AWS SDK clients.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { build } from 'esbuild';
import { SQSTASH_RUNTIME, tracingDefine } from '../../lib/constructs/sqstash-function';
import { BENCH } from '../config';
import { ROOT } from '../lib/processes';
import { median } from '../lib/stats';

export type BundleResult = {
  readonly name: string;
  readonly entry: string;
  /** index.js, minified. */
  readonly bytes: number;
  readonly sourceMapBytes: number;
  /** index.js and its map deflated, about what the uploaded zip weighs. */
  readonly zipBytes: number;
  /** Median time to require() the bundle in a fresh process (ms). */
  readonly loadMs: number;
  /** The same with --enable-source-maps, as the functions run (NODE_OPTIONS in the stack). */
  readonly loadWithSourceMapsMs: number;
  /** The packages that take most of index.js, largest first (bytes in the output). */
  readonly largestParts: readonly { readonly name: string; readonly bytes: number }[];
};

export type ColdStartResults = {
  readonly target: string;
  readonly runs: number;
  readonly reference: BundleResult;
  readonly handlers: readonly BundleResult[];
  /** Diagnostic variants of the handlers (ATTRIBUTION). */
  readonly attribution: readonly BundleResult[];
};

/** A bundle to build: an entry, and whether it is built with tracing on. */
type Variant = {
  readonly name: string;
  readonly entry: string;
  readonly tracing?: boolean;
};

const LARGEST_PARTS = 4;
/** Diagnostics, not deployed by default: what turning tracing on costs the delivery function. */
const ATTRIBUTION: readonly Variant[] = [
  {
    name: 'delivery with tracing on (Tracer, X-Ray SDK)',
    entry: 'lambdas/aws/handlers/delivery.ts',
    tracing: true,
  },
];

function largestParts(metafile: Metafile): { name: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, input] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/')[0]!;
      byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...byPackage]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, LARGEST_PARTS);
}

const HANDLERS_DIR = 'lambdas/aws/handlers';
const REFERENCE_ENTRY = 'bench/cold-start/sdk-reference.ts';

/** What Lambda sets, enough for the modules' load-time code (Powertools reads these). */
const LAMBDA_ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'sqstash-bench',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  POWERTOOLS_SERVICE_NAME: 'sqstash',
  POWERTOOLS_METRICS_NAMESPACE: 'sqstash',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/** The esbuild target NodejsFunction derives from the runtime (`nodejs24.x` -> `node24`). */
function esbuildTarget(): string {
  const major = /^nodejs(\d+)/.exec(SQSTASH_RUNTIME.name)?.[1];
  if (!major) throw new Error(`unexpected Lambda runtime ${SQSTASH_RUNTIME.name}`);
  return `node${major}`;
}

async function bundle(
  variant: Variant,
  outDir: string,
  target: string,
): Promise<{ file: string; metafile: Metafile }> {
  const outfile = join(outDir, variant.name.replace(/\W+/g, '-'), 'index.js');
  const { metafile } = await build({
    entryPoints: [join(ROOT, variant.entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target,
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [],
    logLevel: 'error',
    metafile: true,
    define: tracingDefine(variant.tracing ?? false),
  });
  return { file: outfile, metafile: metafile! };
}

/** Loads `file` in a fresh process and resolves with the milliseconds require() took. */
function loadOnce(file: string, sourceMaps: boolean): Promise<number> {
  const script = `const { performance } = require('node:perf_hooks'); const start = performance.now(); require(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - start));`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(sourceMaps ? ['--enable-source-maps'] : []), '-e', script],
      { env: LAMBDA_ENV, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('exit', (code) => {
      const ms = Number(out);
      if (code === 0 && Number.isFinite(ms)) resolve(ms);
      else reject(new Error(`loading ${file} failed (${code}): ${err}`));
    });
  });
}

export async function benchColdStart(log: (line: string) => void): Promise<ColdStartResults> {
  const target = esbuildTarget();
  const outDir = mkdtempSync(join(tmpdir(), 'sqstash-bench-bundles-'));
  try {
    const handlers = readdirSync(join(ROOT, HANDLERS_DIR))
      .filter((file) => file.endsWith('.ts'))
      .sort()
      .map((file): Variant => ({ name: basename(file, '.ts'), entry: `${HANDLERS_DIR}/${file}` }));
    const variants: Variant[] = [
      { name: 'SDK clients only (reference)', entry: REFERENCE_ENTRY },
      ...handlers,
      ...ATTRIBUTION,
    ];
    log(`bundling ${variants.length} entries (esbuild, ${target}, minified, SDK bundled)`);
    const built = await Promise.all(variants.map((variant) => bundle(variant, outDir, target)));
    const files = built.map(({ file }) => file);
    const samples = variants.map(() => ({ plain: [] as number[], mapped: [] as number[] }));
    log(`loading each bundle ${BENCH.coldStartRuns}x in fresh processes`);
    // Interleaved, so a burst of load on the shared machine hits every bundle alike.
    for (let run = 0; run < BENCH.coldStartRuns; run += 1) {
      for (const [index, file] of files.entries()) {
        samples[index]!.plain.push(await loadOnce(file, false));
        samples[index]!.mapped.push(await loadOnce(file, true));
      }
    }
    const results = variants.map((variant, index): BundleResult => {
      const file = files[index]!;
      return {
        name: variant.name,
        entry: variant.entry,
        bytes: statSync(file).size,
        sourceMapBytes: statSync(`${file}.map`).size,
        zipBytes: [file, `${file}.map`].reduce(
          (sum, path) => sum + deflateRawSync(readFileSync(path)).length,
          0,
        ),
        loadMs: median(samples[index]!.plain),
        loadWithSourceMapsMs: median(samples[index]!.mapped),
        largestParts: largestParts(built[index]!.metafile),
      };
    });
    return {
      target,
      runs: BENCH.coldStartRuns,
      reference: results[0]!,
      handlers: results.slice(1, 1 + handlers.length),
      attribution: results.slice(1 + handlers.length),
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
