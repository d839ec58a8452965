import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { REPO_ROOT } from './cdk-app';

/**
 * The bundles `cdk synth` produces, checked the way Lambda will use them: the real CLI synthesizes
 * the app offline (no AWS credentials, no Docker), then each function's asset is inspected and
 * loaded in a fresh Node process.
 */

const MB = 1_000_000;
/**
 * Minified code per function, under 1 MiB: each function bundles only what it uses (no undici:
 * the delivery function sends over node:http; no Tracer unless tracing is on).
 */
const CODE_BUDGET_BYTES = 1024 * 1024;
/** Text only undici's code holds (its HTTP parser), and text only the Powertools Tracer holds. */
const UNDICI_MARK = 'llhttp';
const TRACER_MARK = 'POWERTOOLS_TRACER_CAPTURE_RESPONSE';
const BUILTINS = new Set(builtinModules);
const SYNTH_TIMEOUT_MS = 120_000;

type Bundle = { readonly description: string; readonly dir: string };

/** The environment without AWS credentials or profiles, so nothing can reach an account. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  return {
    ...env,
    CDK_DISABLE_VERSION_CHECK: '1',
    CDK_DISABLE_CLI_TELEMETRY: '1',
    ...extra,
  };
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) =>
    statSync(path.join(dir, file)).isFile(),
  );
}

let outDir: string;
let bundles: Bundle[];

beforeAll(() => {
  outDir = mkdtempSync(path.join(tmpdir(), 'sqstash-synth-'));
  execFileSync(
    path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'),
    ['synth', '--quiet', '--no-notices', '--output', outDir],
    { cwd: REPO_ROOT, env: offlineEnv(), stdio: 'pipe', timeout: SYNTH_TIMEOUT_MS },
  );
  const template = JSON.parse(readFileSync(path.join(outDir, 'Sqstash.template.json'), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  bundles = Object.values(template.Resources)
    .filter((resource) => resource.Type === 'AWS::Lambda::Function')
    .map((resource) => {
      const code = resource.Properties.Code as { S3Key: string };
      return {
        description: resource.Properties.Description as string,
        dir: path.join(outDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`),
      };
    });
}, SYNTH_TIMEOUT_MS);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('cdk synth bundles', () => {
  it('produces one bundle per function', () => {
    expect(bundles.map((bundle) => bundle.description).sort()).toEqual([
      'sqstash API: the QStash-compatible /v2 routes',
      'sqstash dead letters: record the dead letter, fire the failure callback',
      'sqstash delivery: one HTTP attempt per SQS record',
    ]);
  });

  it('keeps each deployment package under 1 MB: one minified file and its source map', () => {
    for (const bundle of bundles) {
      const files = filesUnder(bundle.dir).sort();
      // What the zip CDK uploads holds: each file deflated (plus a few bytes of headers).
      const compressed = files
        .map((file) => deflateRawSync(readFileSync(path.join(bundle.dir, file))).length)
        .reduce((sum, size) => sum + size, 0);

      expect(files).toEqual(['index.js', 'index.js.map']);
      expect(compressed).toBeLessThan(MB);
    }
  });

  it('keeps the code Lambda parses at a cold start within its budget', () => {
    for (const bundle of bundles) {
      expect(statSync(path.join(bundle.dir, 'index.js')).size).toBeLessThan(CODE_BUDGET_BYTES);
    }
  });

  it('leaves undici and, without tracing, the Tracer out of every bundle', () => {
    const marks = Object.fromEntries(
      bundles.map((bundle) => {
        const code = readFileSync(path.join(bundle.dir, 'index.js'), 'utf8');
        const name = bundle.description.split(':')[0]!;
        return [name, { undici: code.includes(UNDICI_MARK), tracer: code.includes(TRACER_MARK) }];
      }),
    );

    expect(marks).toEqual({
      'sqstash API': { undici: false, tracer: false },
      'sqstash delivery': { undici: false, tracer: false },
      'sqstash dead letters': { undici: false, tracer: false },
    });
  });

  it('bundles the AWS SDK instead of requiring it from the runtime, and no native module', () => {
    for (const bundle of bundles) {
      const code = readFileSync(path.join(bundle.dir, 'index.js'), 'utf8');
      // A require() call left in the code, not one quoted in an SDK error message ("[require(...").
      const externals = [...code.matchAll(/[^[]require\(["']([^"'.][^"']*)["']\)/g)]
        .map((match) => match[1] ?? '')
        .filter((name) => !name.startsWith('node:') && !BUILTINS.has(name));
      const native = filesUnder(bundle.dir).filter((file) => file.endsWith('.node'));

      expect({ externals, native, sqlite: code.includes('better-sqlite3') }).toEqual({
        externals: [],
        native: [],
        sqlite: false,
      });
      expect(code.endsWith('//# sourceMappingURL=index.js.map\n')).toBe(true);
    }
  });

  it('loads each bundle in a fresh Node process and finds its handler', () => {
    for (const bundle of bundles) {
      const result = spawnSync(
        process.execPath,
        ['-e', 'process.stdout.write(typeof require(process.env.BUNDLE).handler)'],
        { env: offlineEnv({ BUNDLE: path.join(bundle.dir, 'index.js') }), encoding: 'utf8' },
      );

      expect({ status: result.status, stderr: result.stderr, stdout: result.stdout }).toEqual({
        status: 0,
        stderr: '',
        stdout: 'function',
      });
    }
  });

  it('answers a GET /v2/keys from the API bundle with an error, not a crash, when AWS is unreachable', () => {
    const api = bundles.find((bundle) => bundle.description.startsWith('sqstash API'));
    const script = `
      const { handler } = require(process.env.BUNDLE);
      const event = {
        version: '2.0', routeKey: 'ANY /v2/{proxy+}', rawPath: '/v2/keys', rawQueryString: '',
        headers: { authorization: 'Bearer not-the-token', host: 'example.execute-api.eu-west-1.amazonaws.com' },
        requestContext: {
          accountId: '123456789012', apiId: 'example', domainName: 'example.execute-api.eu-west-1.amazonaws.com',
          domainPrefix: 'example', http: { method: 'GET', path: '/v2/keys', protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'req-1', routeKey: 'ANY /v2/{proxy+}',
          stage: '$default', time: '23/Nov/2026:08:00:00 +0000', timeEpoch: 1795420800000,
        },
        pathParameters: { proxy: 'keys' }, isBase64Encoded: false,
      };
      const context = { awsRequestId: 'req-1', functionName: 'api', functionVersion: '$LATEST',
        invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:api', memoryLimitInMB: '256',
        logGroupName: '/aws/lambda/api', logStreamName: 's', getRemainingTimeInMillis: () => 29000 };
      handler(event, context).then(
        (result) => { process.stdout.write(JSON.stringify({ result })); },
        (error) => { process.stdout.write(JSON.stringify({ error: { name: error && error.name, message: String(error && error.message) } })); },
      );
    `;
    const result = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      env: offlineEnv({
        BUNDLE: path.join(api?.dir ?? '', 'index.js'),
        // Every AWS call goes to a closed local port and fails at once.
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'example',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_MAX_ATTEMPTS: '1',
        SQSTASH_TABLE_NAME: 'nowhere',
        SQSTASH_DELIVERY_QUEUE_URL: 'http://127.0.0.1:9/123456789012/nowhere',
        SQSTASH_DELIVERY_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:123456789012:nowhere',
        SQSTASH_SCHEDULE_GROUP: 'nowhere',
        SQSTASH_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/nowhere',
        SQSTASH_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:token',
        SQSTASH_SIGNING_KEYS_SECRET_ARN:
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys',
        POWERTOOLS_SERVICE_NAME: 'sqstash',
        POWERTOOLS_METRICS_NAMESPACE: 'sqstash',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      }),
    });

    expect(result.status).toBe(0);
    const outcome = JSON.parse(result.stdout) as {
      result?: { statusCode: number };
      error?: { name: string; message: string };
    };
    if (outcome.result) {
      expect([401, 500, 502, 503]).toContain(outcome.result.statusCode);
    } else {
      // A rejected invocation: Lambda reports it and API Gateway answers 500. Not a crash in
      // the bundle: no missing module, no TypeError or ReferenceError from bundling.
      expect(outcome.error?.name).not.toMatch(/^(TypeError|ReferenceError|SyntaxError)$/);
      expect(outcome.error?.message).not.toMatch(/Cannot find module|is not a function/);
    }
  });
});
