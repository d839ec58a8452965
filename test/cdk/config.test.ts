import { Duration } from 'aws-cdk-lib';
import type { SqstashSettings } from '../../lib/config';
import { CONTEXT_KEYS, resolveSqstashConfig, SQSTASH_DEFAULTS } from '../../lib/config';
import { buildStack, cdkJsonContext } from './cdk-app';

const noContext = () => undefined;
const contextOf =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

/** The config with every Duration as seconds, so equal durations in different units compare equal. */
function inSeconds(config: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      value instanceof Duration ? value.toSeconds() : value,
    ]),
  );
}

/** Runs `act`, asserts it threw, and returns the message. */
function errorMessageOf(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('resolveSqstashConfig', () => {
  it('returns the documented defaults when neither props nor context are set', () => {
    const config = resolveSqstashConfig({}, noContext);

    expect(config).toMatchObject({
      maxRetries: 5,
      defaultRetries: 3,
      maxReceiveCount: 10,
      deliveryConcurrency: 10,
      frontDoor: 'httpApi',
      visibility: 'eventual',
      logLevel: 'INFO',
      tracing: false,
      logRetentionDays: 30,
      alarmTopicArn: undefined,
      flowControlGlobalParallelism: undefined,
    });
    expect(config.retention.toDays()).toBe(14);
    expect(config.maxAttemptTimeout.toSeconds()).toBe(300);
    expect(config.deliveryTimeout.toSeconds()).toBe(360);
    expect(config.apiTimeout.toSeconds()).toBe(29);
    expect(config.dedupWindow.toDays()).toBe(90);
    expect(config.oldestMessageAgeAlarm.toMinutes()).toBe(30);
  });

  it('reads context values written as strings, as `cdk -c key=value` passes them', () => {
    const config = resolveSqstashConfig(
      {},
      contextOf({
        [CONTEXT_KEYS.maxRetries]: '8',
        [CONTEXT_KEYS.maxAttemptTimeout]: '10m',
        [CONTEXT_KEYS.retention]: '1d12h',
        [CONTEXT_KEYS.dedupWindow]: '3600',
        [CONTEXT_KEYS.tracing]: 'true',
        [CONTEXT_KEYS.logLevel]: 'debug',
      }),
    );

    expect(config.maxRetries).toBe(8);
    expect(config.maxReceiveCount).toBe(10);
    expect(config.maxAttemptTimeout.toSeconds()).toBe(600);
    expect(config.deliveryTimeout.toSeconds()).toBe(660);
    expect(config.retention.toHours()).toBe(36);
    expect(config.dedupWindow.toSeconds()).toBe(3600);
    expect(config.tracing).toBe(true);
    expect(config.logLevel).toBe('DEBUG');
  });

  it('prefers a prop over context', () => {
    const config = resolveSqstashConfig(
      { maxRetries: 7, maxAttemptTimeout: Duration.minutes(2) },
      contextOf({ [CONTEXT_KEYS.maxRetries]: 9, [CONTEXT_KEYS.maxAttemptTimeout]: '10m' }),
    );

    expect(config.maxRetries).toBe(7);
    expect(config.maxAttemptTimeout.toSeconds()).toBe(120);
  });

  it('allows an API timeout up to 15 minutes behind a Function URL, 30 seconds behind the HTTP API', () => {
    const longApi = { apiTimeout: Duration.minutes(5) };

    const behindUrl = resolveSqstashConfig(
      longApi,
      contextOf({ [CONTEXT_KEYS.frontDoor]: 'functionUrl' }),
    );

    expect(behindUrl.frontDoor).toBe('functionUrl');
    expect(behindUrl.apiTimeout.toMinutes()).toBe(5);
    expect(errorMessageOf(() => resolveSqstashConfig(longApi, noContext))).toContain(
      'prop apiTimeout: 5 minutes is outside 1 second..30 seconds',
    );
    expect(
      errorMessageOf(() =>
        resolveSqstashConfig({}, contextOf({ [CONTEXT_KEYS.frontDoor]: 'cloudfront' })),
      ),
    ).toContain('context sqstash:frontDoor: "cloudfront" is not one of httpApi, functionUrl');
  });

  it('lowers the default retries to a cap below 3', () => {
    expect(resolveSqstashConfig({ maxRetries: 1 }, noContext).defaultRetries).toBe(1);
  });

  it('fails with every problem at once, naming the source, the value and what is allowed', () => {
    const message = errorMessageOf(() =>
      resolveSqstashConfig(
        {
          maxRetries: 10,
          defaultRetries: 11,
          maxReceiveCount: 4,
          deliveryConcurrency: 1,
          flowControlGlobalParallelism: 0,
          maxAttemptTimeout: Duration.minutes(15),
          apiTimeout: Duration.seconds(31),
          logRetentionDays: 10,
        },
        contextOf({
          [CONTEXT_KEYS.retention]: 'two weeks',
          [CONTEXT_KEYS.logLevel]: 'LOUD',
          [CONTEXT_KEYS.tracing]: 'yes',
          [CONTEXT_KEYS.alarmTopicArn]: 'my-topic',
        }),
      ),
    );

    expect(message.split('\n')).toEqual([
      'Invalid sqstash configuration:',
      '  - prop defaultRetries: 11 is outside 0..10',
      '  - prop maxReceiveCount: 4 is outside 5..1000',
      '  - prop deliveryConcurrency: 1 is outside 2..1000',
      '  - prop flowControlGlobalParallelism: 0 is outside 1..1000000',
      '  - prop maxAttemptTimeout: 15 minutes is outside 1 second..14 minutes',
      '  - prop apiTimeout: 31 seconds is outside 1 second..30 seconds',
      '  - context sqstash:retention: "two weeks" is not a duration; use whole units such as 90s, 5m, 2h or 14d, or a number of seconds',
      '  - context sqstash:logLevel: "LOUD" is not one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT',
      '  - context sqstash:tracing: "yes" is not true or false',
      '  - prop logRetentionDays: 10 is not one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
      '  - context sqstash:alarmTopicArn: "my-topic" is not an SNS topic ARN',
    ]);
  });

  it('fails on a whole-number setting given a fraction', () => {
    expect(
      errorMessageOf(() =>
        resolveSqstashConfig({}, contextOf({ [CONTEXT_KEYS.deliveryConcurrency]: '2.5' })),
      ),
    ).toContain('context sqstash:deliveryConcurrency: "2.5" is not a whole number');
  });
});

describe('cdk.json', () => {
  it('sets every sqstash context default to the value the code documents', () => {
    const context = cdkJsonContext();
    const fromCdkJson = resolveSqstashConfig({}, (key) => context[key]);
    const fromCode = resolveSqstashConfig({}, noContext);

    expect(inSeconds(fromCdkJson)).toEqual(inSeconds(fromCode));
    const sqstashKeys = Object.keys(context).filter((key) => key.startsWith('sqstash:'));
    const documented = Object.keys(SQSTASH_DEFAULTS).map(
      (key) => CONTEXT_KEYS[key as keyof SqstashSettings],
    );
    expect(sqstashKeys.sort()).toEqual(documented.sort());
  });
});

describe('SqstashStack', () => {
  it('fails before building anything when the configuration is invalid', () => {
    expect(() => buildStack({ deliveryConcurrency: 5000 })).toThrow(
      'Invalid sqstash configuration:\n  - prop deliveryConcurrency: 5000 is outside 2..1000',
    );
  });

  it('fails on invalid CDK context too', () => {
    expect(() => buildStack({}, { [CONTEXT_KEYS.maxRetries]: 'many' })).toThrow(
      'context sqstash:maxRetries: "many" is not a whole number',
    );
  });
});
