/**
 * Secrets Manager holds the AWS runtime's two secrets, both generated at deploy time by the
 * CDK stack (DECISIONS.md: "Deployed defaults"):
 *
 * - The signing keys: one secret whose value is JSON `{"current": "sig_...", "next": "sig_..."}`.
 *   A key rotation writes a new version of it (`PutSecretValue`).
 * - The API token: one secret whose value is JSON `{"token": "..."}`, which is what CDK's
 *   `generateSecretString({ secretStringTemplate: '{}', generateStringKey: 'token' })`
 *   produces. A plain-string value is refused rather than guessed at: JSON is the one format,
 *   so a token can never be mistaken for the JSON around it.
 *
 * Reading needs `secretsmanager:GetSecretValue` and `DescribeSecret` (`secret.grantRead`); a
 * rotation needs `PutSecretValue` (`secret.grantWrite`). Nothing is cached here: the caller
 * reads once per cold start (KeyRing keeps the keys in memory). Error messages name the secret
 * and the expected shape, never its value.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SigningKeys } from '../../core/signing';
import type { SigningKeyStore } from '../../ports/signing-key-store';

const SIGNING_KEYS_SHAPE = '{"current": "sig_...", "next": "sig_..."}';
const TOKEN_SHAPE = '{"token": "..."}';

/** A secret is missing, unreadable or not in the shape sqstash expects. */
export class SecretError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecretError';
  }
}

/** The signing keys in one Secrets Manager secret (`SQSTASH_SIGNING_KEYS_SECRET_ARN`). */
export class SecretsManagerSigningKeyStore implements SigningKeyStore {
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;

  constructor(client: SecretsManagerClient, secretId: string) {
    this.#client = client;
    this.#secretId = secretId;
  }

  /** The stored pair; undefined only when the secret exists but has no value yet. */
  async getKeys(): Promise<SigningKeys | undefined> {
    const value = await readSecretObject(this.#client, this.#secretId, SIGNING_KEYS_SHAPE);
    if (value === undefined) return undefined;
    const { current, next } = value;
    if (!isNonEmptyString(current) || !isNonEmptyString(next)) {
      throw new SecretError(
        `secret ${this.#secretId} does not hold signing keys: expected JSON ${SIGNING_KEYS_SHAPE} ` +
          'with two non-empty strings',
      );
    }
    return { current, next };
  }

  /** Writes the pair as the secret's new current version. */
  async saveKeys(keys: SigningKeys): Promise<void> {
    try {
      await this.#client.send(
        new PutSecretValueCommand({
          SecretId: this.#secretId,
          SecretString: JSON.stringify({ current: keys.current, next: keys.next }),
        }),
      );
    } catch (error) {
      throw new SecretError(
        `could not save the signing keys to secret ${this.#secretId}: ${describe(error)}`,
        { cause: error },
      );
    }
  }
}

/** The API token from its secret (`SQSTASH_TOKEN_SECRET_ARN`), JSON `{"token": "..."}`. */
export async function loadToken(client: SecretsManagerClient, secretId: string): Promise<string> {
  const value = await readSecretObject(client, secretId, TOKEN_SHAPE);
  if (value === undefined) {
    throw new SecretError(`secret ${secretId} has no value yet: expected JSON ${TOKEN_SHAPE}`);
  }
  if (!isNonEmptyString(value.token)) {
    throw new SecretError(
      `secret ${secretId} does not hold the API token: expected JSON ${TOKEN_SHAPE} with a non-empty string`,
    );
  }
  return value.token;
}

/**
 * The secret's current value parsed as a JSON object, or undefined when the secret exists but
 * has no value. Secrets Manager answers ResourceNotFoundException both for a secret without a
 * value and for no secret at all; DescribeSecret tells the two apart, so a wrong ARN fails
 * loudly instead of looking like "nothing saved yet".
 */
async function readSecretObject(
  client: SecretsManagerClient,
  secretId: string,
  shape: string,
): Promise<Record<string, unknown> | undefined> {
  let secretString: string | undefined;
  try {
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = output.SecretString;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) {
      if (await secretExists(client, secretId)) return undefined;
      throw new SecretError(`secret ${secretId} does not exist: ${describe(error)}`, {
        cause: error,
      });
    }
    throw new SecretError(`could not read secret ${secretId}: ${describe(error)}`, {
      cause: error,
    });
  }
  if (secretString === undefined) {
    throw new SecretError(`secret ${secretId} holds binary data: expected JSON ${shape}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretError(`secret ${secretId} is not a JSON object: expected JSON ${shape}`);
  }
  return parsed as Record<string, unknown>;
}

async function secretExists(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  try {
    await client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw new SecretError(`could not describe secret ${secretId}: ${describe(error)}`, {
      cause: error,
    });
  }
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
