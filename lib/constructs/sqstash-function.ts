import * as path from 'node:path';
import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../acknowledge';
import { functionEnvironment } from '../lambda-environment';

/** The repository root: bundling resolves entries, the lock file and node_modules from here. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** The runtime every function runs on; the bundles target the same Node major. */
export const SQSTASH_RUNTIME = lambda.Runtime.NODEJS_24_X;
const ESBUILD_TARGET = 'node24';
/**
 * The constant every bundle is built with: whether the function traces (lambdas/aws/
 * powertools.ts, traceClients). Without tracing the Tracer is left out of the bundle.
 */
export function tracingDefine(tracing: boolean): Record<string, string> {
  return { 'process.env.SQSTASH_TRACING': JSON.stringify(String(tracing)) };
}

export type SqstashFunctionProps = {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Function timeout. */
  readonly timeout: Duration;
  /**
   * Memory in MiB (CPU scales with it).
   * @default 256
   */
  readonly memorySize?: number;
  /** Environment variables; names come from `lambdas/aws/env-vars.ts`. */
  readonly environment: Readonly<Record<string, string>>;
  /** How long the function's log group keeps entries. */
  readonly logRetention: logs.RetentionDays;
  /**
   * X-Ray active tracing.
   * @default false
   */
  readonly tracing?: boolean;
};

/**
 * One sqstash Lambda function: bundled by esbuild (minified, source maps, the AWS SDK bundled
 * and tree-shaken rather than taken from the runtime), arm64, the current Node runtime, its own
 * log group, and a role that starts with nothing but write access to that log group. Callers
 * add every other permission with `grant*`.
 */
export class SqstashFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SqstashFunctionProps) {
    super(scope, id);

    // Setup the log group first, so the function never creates an unbounded one itself. It is
    // retained with the stack (the default), so an incident's logs survive a teardown.
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });

    // A role without AWSLambdaBasicExecutionRole: that managed policy lets the function write
    // to any log group in the account; this one only to its own.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: SQSTASH_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      // JSON logs let Lambda filter its own START, END and REPORT lines (system level INFO),
      // a third of the log bill behind the HTTP API (README, "What it costs"); Duration, Errors
      // and Throttles remain as metrics. Application logs are filtered by Powertools at
      // sqstash:logLevel, not by Lambda, which would also drop the EMF metric lines (they
      // have no level, which Lambda reads as INFO): see lambdas/aws/powertools.ts.
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      applicationLogLevelV2: lambda.ApplicationLogLevel.TRACE,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: {
        ...props.environment,
        ...functionEnvironment(props.timeout, props.tracing ?? false),
        // Stack traces in the logs point at the TypeScript sources (see bundling.sourceMap).
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // CommonJS: the handlers and their dependencies run without an ESM `require` shim, and
        // the bundle loads with a plain require(). `module` first in mainFields makes esbuild
        // read the dependencies' ES module builds, which it can tree-shake (AWS SDK v3,
        // Powertools); the CommonJS builds it would pick otherwise cannot be.
        format: OutputFormat.CJS,
        mainFields: ['module', 'main'],
        target: ESBUILD_TARGET,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // The .map file only needs line mappings, not a second copy of every source.
        sourcesContent: false,
        // Bundle the AWS SDK: one pinned version, tree-shaken, faster to load than the
        // runtime's copy (aws-facts §2).
        externalModules: [],
        bundleAwsSDK: true,
        // esbuild from node_modules; never Docker.
        forceDockerBundling: false,
        // A constant, so that without tracing the Tracer and the X-Ray SDK are left out of the
        // bundle altogether (lambdas/aws/powertools.ts, traceClients).
        define: tracingDefine(props.tracing ?? false),
      },
    });

    if (props.tracing) {
      this.allowWildcard(
        'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions; Lambda active tracing needs them on "*".',
      );
    }
  }

  readonly #wildcardReasons: string[] = [];

  /** Acknowledges a permission on `"*"` the role needs, with why (every reason given so far). */
  public allowWildcard(reason: string): void {
    this.#wildcardReasons.push(reason);
    acknowledge(this.role, 'AwsSolutions-IAM5[Resource::*]', this.#wildcardReasons.join(' '));
  }
}
