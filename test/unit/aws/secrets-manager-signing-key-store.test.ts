import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import {
  loadToken,
  SecretError,
  SecretsManagerSigningKeyStore,
} from '../../../lambdas/adapters/aws/secrets-manager-signing-key-store';
import { describeSigningKeyStoreContract } from '../../contract/signing-key-store.contract';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-keys-AbCdEf';
const TOKEN_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sqstash-token-GhIjKl';

/**
 * Secrets Manager as far as these adapters use it: secrets that exist, each with a current value
 * or none yet. Errors are the ones the service answers (aws-facts.md; boto3 issue #2794: a
 * secret without a value is ResourceNotFoundException too).
 */
function fakeSecretsManager(existing: Record<string, string | undefined>): {
  client: SecretsManagerClient;
  mock: AwsClientStub<SecretsManagerClient>;
  values: Map<string, string | undefined>;
} {
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  const values = new Map(Object.entries(existing));
  const notFound = (message: string) => new ResourceNotFoundException({ message, $metadata: {} });
  mock.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    if (!values.has(input.SecretId))
      throw notFound("Secrets Manager can't find the specified secret.");
    const value = values.get(input.SecretId);
    if (value === undefined) {
      throw notFound(
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
      );
    }
    return { ARN: input.SecretId, SecretString: value };
  });
  mock.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => {
    if (!values.has(input.SecretId))
      throw notFound("Secrets Manager can't find the specified secret.");
    return { ARN: input.SecretId };
  });
  mock.on(PutSecretValueCommand).callsFake((input: { SecretId: string; SecretString: string }) => {
    if (!values.has(input.SecretId))
      throw notFound("Secrets Manager can't find the specified secret.");
    values.set(input.SecretId, input.SecretString);
    return { ARN: input.SecretId };
  });
  return { client, mock, values };
}

describeSigningKeyStoreContract('SecretsManagerSigningKeyStore', async () => {
  const { client, mock } = fakeSecretsManager({ [SECRET_ARN]: undefined });
  return {
    store: new SecretsManagerSigningKeyStore(client, SECRET_ARN),
    // A new cold start: another store over the same secret, nothing carried over in memory.
    reopen: async () => new SecretsManagerSigningKeyStore(client, SECRET_ARN),
    cleanup: async () => mock.restore(),
  };
});

describe('Class: SecretsManagerSigningKeyStore', () => {
  let fake: ReturnType<typeof fakeSecretsManager>;

  afterEach(() => {
    fake.mock.restore();
  });

  describe('Method: getKeys', () => {
    it('reads the current version of the secret as JSON {"current","next"}', async () => {
      // Prepare
      fake = fakeSecretsManager({ [SECRET_ARN]: '{"current":"sig_a","next":"sig_b"}' });
      const store = new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN);

      // Act
      const keys = await store.getKeys();

      // Assess
      expect(keys).toEqual({ current: 'sig_a', next: 'sig_b' });
      expect(
        fake.mock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input),
      ).toEqual([{ SecretId: SECRET_ARN }]);
      expect(fake.mock.commandCalls(DescribeSecretCommand)).toHaveLength(0);
    });

    it('ignores other fields, such as those a generated secret carries', async () => {
      fake = fakeSecretsManager({
        [SECRET_ARN]: '{"current":"sig_a","next":"sig_b","generatedAt":"2025-01-01"}',
      });

      expect(await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN).getKeys()).toEqual({
        current: 'sig_a',
        next: 'sig_b',
      });
    });

    it('resolves undefined for a secret with no value, after checking it exists', async () => {
      fake = fakeSecretsManager({ [SECRET_ARN]: undefined });

      expect(
        await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN).getKeys(),
      ).toBeUndefined();
      expect(
        fake.mock.commandCalls(DescribeSecretCommand).map((call) => call.args[0].input),
      ).toEqual([{ SecretId: SECRET_ARN }]);
    });

    it('rejects, rather than reporting no keys, when the secret does not exist', async () => {
      fake = fakeSecretsManager({});

      const error = await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN)
        .getKeys()
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toBe(
        `secret ${SECRET_ARN} does not exist: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
      );
    });

    it.each([
      ['not JSON', 'sig_a sig_b', 'is not a JSON object'],
      ['a JSON string', '"sig_a"', 'is not a JSON object'],
      ['missing "next"', '{"current":"sig_a"}', 'does not hold signing keys'],
      ['an empty key', '{"current":"sig_a","next":""}', 'does not hold signing keys'],
    ])('rejects a value that is %s without echoing it', async (_, value, problem) => {
      // Prepare
      fake = fakeSecretsManager({ [SECRET_ARN]: value });

      // Act
      const error = await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN)
        .getKeys()
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toContain(`secret ${SECRET_ARN} ${problem}`);
      expect((error as Error).message).toContain('{"current": "sig_...", "next": "sig_..."}');
      expect((error as Error).message).not.toContain('sig_a');
    });

    it('rejects a binary secret', async () => {
      fake = fakeSecretsManager({});
      fake.mock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });

      await expect(
        new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN).getKeys(),
      ).rejects.toThrow(`secret ${SECRET_ARN} holds binary data`);
    });

    it('wraps any other failure in a SecretError with the SDK error as its cause', async () => {
      // Prepare
      fake = fakeSecretsManager({});
      const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
      fake.mock.on(GetSecretValueCommand).rejects(denied);

      // Act
      const error = await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN)
        .getKeys()
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(SecretError);
      expect((error as Error).message).toBe(
        `could not read secret ${SECRET_ARN}: AccessDeniedException: not authorized`,
      );
      expect((error as Error).cause).toBe(denied);
    });
  });

  describe('Method: saveKeys', () => {
    it('puts the pair as the new value of the secret', async () => {
      // Prepare
      fake = fakeSecretsManager({ [SECRET_ARN]: '{"current":"sig_a","next":"sig_b"}' });

      // Act
      await new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN).saveKeys({
        current: 'sig_b',
        next: 'sig_c',
      });

      // Assess
      expect(
        fake.mock.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input),
      ).toEqual([{ SecretId: SECRET_ARN, SecretString: '{"current":"sig_b","next":"sig_c"}' }]);
    });

    it('rejects with a SecretError when the write fails', async () => {
      fake = fakeSecretsManager({});

      await expect(
        new SecretsManagerSigningKeyStore(fake.client, SECRET_ARN).saveKeys({
          current: 'sig_b',
          next: 'sig_c',
        }),
      ).rejects.toThrow(`could not save the signing keys to secret ${SECRET_ARN}`);
    });
  });
});

describe('Function: loadToken', () => {
  let fake: ReturnType<typeof fakeSecretsManager>;

  afterEach(() => {
    fake.mock.restore();
  });

  it('reads the token from JSON {"token"}, as generateSecretString writes it', async () => {
    // Prepare
    fake = fakeSecretsManager({ [TOKEN_ARN]: '{"token":"s3cr3t-t0ken"}' });

    // Act
    const token = await loadToken(fake.client, TOKEN_ARN);

    // Assess
    expect(token).toBe('s3cr3t-t0ken');
    expect(fake.mock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual(
      [{ SecretId: TOKEN_ARN }],
    );
  });

  it.each([
    ['a plain string', 's3cr3t-t0ken', 'is not a JSON object'],
    ['JSON without "token"', '{"password":"s3cr3t-t0ken"}', 'does not hold the API token'],
    ['an empty token', '{"token":""}', 'does not hold the API token'],
  ])('refuses %s, naming the expected shape', async (_, value, problem) => {
    fake = fakeSecretsManager({ [TOKEN_ARN]: value });

    const error = await loadToken(fake.client, TOKEN_ARN).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toContain(`secret ${TOKEN_ARN} ${problem}`);
    expect((error as Error).message).toContain('{"token": "..."}');
    expect((error as Error).message).not.toContain('s3cr3t');
  });

  it('rejects when the secret has no value: the API cannot run without a token', async () => {
    fake = fakeSecretsManager({ [TOKEN_ARN]: undefined });

    const error = await loadToken(fake.client, TOKEN_ARN).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toBe(
      `secret ${TOKEN_ARN} has no value yet: expected JSON {"token": "..."}`,
    );
  });
});
