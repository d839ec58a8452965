import type { Visibility } from '../adapters/aws/message-router';
import { EnvReader } from '../config/env-reader';
import type { CoreConfig } from '../core/config';
import type { DestinationAddressPolicy } from '../ports/delivery-client';
import { AWS_ENV } from './env-vars';

const DAY_MS = 86_400_000;
const SECOND_MS = 1_000;
/** A dedup claim stays provisional this much longer than the function that took it can run. */
const CLAIM_MARGIN_MS = 30_000;
const DEFAULT_FUNCTION_TIMEOUT_MS = 15 * 60 * SECOND_MS;

/** How soon every function signs with keys another function rotated. */
export const KEY_REFRESH_MS = 60_000;

/** Where the AWS runtime's resources are, and its QStash semantics; read once per cold start. */
export type AwsConfig = {
  readonly tableName: string;
  readonly deliveryQueueUrl: string;
  readonly deliveryQueueArn: string;
  readonly scheduleGroupName: string;
  readonly schedulerRoleArn: string;
  readonly tokenSecretArn: string;
  readonly signingKeysSecretArn: string;
  readonly core: CoreConfig;
  /** Which addresses destinations and callbacks may connect to. */
  readonly addressPolicy: DestinationAddressPolicy;
  readonly retentionMs: number;
  readonly visibility: Visibility;
  /** DedupClaims.provisionalMs: the function's timeout and a margin. */
  readonly claimProvisionalMs: number;
  readonly tracing: boolean;
};

/**
 * A Lambda function faces the internet with an IAM role: a destination on a private network,
 * the Lambda runtime API on 127.0.0.1, or the metadata address is refused unless allowed.
 */
export const AWS_DEFAULT_ADDRESS_POLICY: DestinationAddressPolicy = {
  allowLoopback: false,
  allowPrivate: false,
};

export function loadAwsConfig(env: Readonly<Record<string, string | undefined>>): AwsConfig {
  const read = new EnvReader(env);
  const config: AwsConfig = {
    tableName: read.required(AWS_ENV.tableName),
    deliveryQueueUrl: read.required(AWS_ENV.deliveryQueueUrl),
    deliveryQueueArn: read.required(AWS_ENV.deliveryQueueArn),
    scheduleGroupName: read.required(AWS_ENV.scheduleGroupName),
    schedulerRoleArn: read.required(AWS_ENV.schedulerRoleArn),
    tokenSecretArn: read.required(AWS_ENV.tokenSecretArn),
    signingKeysSecretArn: read.required(AWS_ENV.signingKeysSecretArn),
    core: read.coreConfig(),
    addressPolicy: read.addressPolicy(AWS_DEFAULT_ADDRESS_POLICY),
    retentionMs: read.duration(AWS_ENV.retention, 14 * DAY_MS, SECOND_MS),
    visibility: read.oneOf(AWS_ENV.visibility, ['eventual', 'immediate'] as const, 'eventual'),
    claimProvisionalMs:
      read.duration(AWS_ENV.functionTimeout, DEFAULT_FUNCTION_TIMEOUT_MS, SECOND_MS) +
      CLAIM_MARGIN_MS,
    tracing: read.boolean(AWS_ENV.tracing, false),
  };
  read.assertValid();
  return config;
}
