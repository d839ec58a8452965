import type { Duration } from 'aws-cdk-lib';
import { CfnOutput } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../acknowledge';
import type { FrontDoor } from '../config';
import { FUNCTION_URL_AUTH_RULE } from '../nag-checks';
import { SqstashFunction } from './sqstash-function';

/**
 * One JSON line per request, from variables HTTP APIs support, each field one an operator
 * looks for (the route, protocol and response length, the same on nearly every line, are not
 * logged: every line is paid for). Never the query string: a webhook sender may pass the token
 * as `?qstash_token=`.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  time: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  status: '$context.status',
  latencyMs: '$context.integration.latency',
  error: '$context.integrationErrorMessage',
} as const;
const ACCESS_LOG_FORMAT = apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS));

/** API Gateway's ceiling on an HTTP API integration. */
const HTTP_API_MAX_TIMEOUT_SEC = 30;

export type ApiProps = {
  /**
   * How publishers reach the function.
   * @default 'httpApi'
   */
  readonly frontDoor?: FrontDoor;
  /** Environment variables of the API function; names come from `lambdas/aws/env-vars.ts`. */
  readonly environment: Readonly<Record<string, string>>;
  /** API function timeout; behind the HTTP API at most 30 s, API Gateway's limit. */
  readonly timeout: Duration;
  /** How long the function's and the access log's log groups keep entries. */
  readonly logRetention: logs.RetentionDays;
  /**
   * X-Ray active tracing on the function.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Memory of the API function in MiB.
   * @default 256
   */
  readonly memorySize?: number;
};

/**
 * The public front: the API function, which serves the same `/v2` router as the embedded server
 * (payload format 2.0), behind an API Gateway HTTP API whose `/v2/{proxy+}` route (every method)
 * goes to it, with access logs in their own log group; or behind a Lambda Function URL.
 */
export class Api extends Construct {
  public readonly handler: SqstashFunction;
  /** With the `httpApi` front door. */
  public readonly httpApi?: apigwv2.HttpApi;
  public readonly accessLogGroup?: logs.LogGroup;
  /** With the `functionUrl` front door. */
  public readonly functionUrl?: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const frontDoor = props.frontDoor ?? 'httpApi';
    if (frontDoor === 'httpApi' && props.timeout.toSeconds() > HTTP_API_MAX_TIMEOUT_SEC) {
      throw new Error(
        `Invalid Api props:\n  - timeout is ${props.timeout.toHumanString()}; HTTP APIs end integrations after ${HTTP_API_MAX_TIMEOUT_SEC} seconds, use at most that`,
      );
    }

    // Setup the function.
    this.handler = new SqstashFunction(this, 'Handler', {
      entry: 'lambdas/aws/handlers/api.ts',
      description: 'sqstash API: the QStash-compatible /v2 routes',
      timeout: props.timeout,
      memorySize: props.memorySize ?? 256,
      environment: props.environment,
      logRetention: props.logRetention,
      tracing: props.tracing ?? false,
    });

    if (frontDoor === 'functionUrl') {
      this.functionUrl = this.#functionUrl();
      return;
    }

    // Setup the HTTP API, its one route and the $default stage with access logs.
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'sqstash: QStash-compatible HTTP message queue',
      createDefaultStage: false,
    });
    this.httpApi.addRoutes({
      path: '/v2/{proxy+}',
      methods: [apigwv2.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('Integration', this.handler.function, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    new CfnOutput(this, 'Url', {
      description: 'Base URL for the QStash SDKs (QSTASH_URL)',
      value: this.httpApi.apiEndpoint,
    });

    acknowledge(
      this.httpApi,
      'AwsSolutions-APIG4',
      'QStash clients authenticate with "Authorization: Bearer <token>" (or ?qstash_token=), which the API function checks on every request against the token secret, with the same code and constant-time comparison as the embedded server. A Lambda authorizer would duplicate that check at the cost of a second invocation per request.',
    );
  }

  /**
   * A Function URL, open to the internet as the HTTP API is: every request still needs the
   * bearer token, which the function checks. It gives up what API Gateway adds (a custom
   * domain, WAF, throttling, access logs, bodies up to 10 MB instead of 6 MB).
   */
  #functionUrl(): lambda.FunctionUrl {
    const url = this.handler.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });
    new CfnOutput(this, 'Url', {
      description: 'Base URL for the QStash SDKs (QSTASH_URL)',
      value: url.url,
    });
    acknowledge(
      url,
      FUNCTION_URL_AUTH_RULE,
      'The QStash SDKs and webhook senders cannot sign requests with SigV4, so AWS_IAM auth would lock them out. Every request must carry the deployment\'s bearer token ("Authorization: Bearer <token>" or ?qstash_token=), which the function checks before any route runs, by constant-time comparison of digests against the generated token secret, exactly as behind the HTTP API (which has no authorizer either); without it a request gets a 401 and touches no data.',
    );
    return url;
  }
}
