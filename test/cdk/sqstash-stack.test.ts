import { Duration, Token } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { Match } from 'aws-cdk-lib/assertions';
import { encodeReconcileBody } from '../../lambdas/adapters/aws/sqs-entries';
import { TABLE } from '../../lambdas/adapters/aws/table';
import { AWS_ENV } from '../../lambdas/aws/env-vars';
import { CONTEXT_KEYS } from '../../lib/config';
import type { TestStack } from './cdk-app';
import { buildStack, onlyResource } from './cdk-app';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

let built: TestStack;
let template: Template;

beforeAll(() => {
  built = buildStack();
  template = built.template;
});

/** Logical ID of the one resource of `type` under the construct path prefix `prefix`. */
const logicalId = (type: string, prefix: string) => onlyResource(template, type, prefix)[0];
const ref = (type: string, prefix: string) => ({ Ref: logicalId(type, prefix) });
const arnOf = (type: string, prefix: string) => ({
  'Fn::GetAtt': [logicalId(type, prefix), 'Arn'],
});

/** Every Allow statement of the default policy of the role with logical ID prefix `rolePrefix`. */
function statementsOf(rolePrefix: string): Statement[] {
  const [, policy] = onlyResource(template, 'AWS::IAM::Policy', `${rolePrefix}DefaultPolicy`);
  const document = policy.Properties.PolicyDocument as { Statement: Statement[] };
  return document.Statement;
}
const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
function allActionsOf(rolePrefix: string): string[] {
  return statementsOf(rolePrefix).flatMap(actionsOf).sort();
}
/** The resource(s) the role may use `action` on. */
function resourcesFor(rolePrefix: string, action: string): unknown[] {
  return statementsOf(rolePrefix)
    .filter((statement) => actionsOf(statement).includes(action))
    .flatMap((statement) =>
      Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource],
    );
}

const QUEUE = 'DeliveryQueuesQueue';
const DLQ = 'DeliveryQueuesDeadLetterQueue';
const API_ROLE = 'ApiHandlerRole';
const DELIVERY_ROLE = 'DeliveryPipelineDeliveryRole';
const DEAD_LETTER_ROLE = 'DeliveryPipelineDeadLetterRole';
const SQS = 'AWS::SQS::Queue';
const FUNCTION = 'AWS::Lambda::Function';

describe('SqstashStack: delivery queue and dead-letter queue', () => {
  it('raises the delivery queue to 1 MiB messages, keeps them 14 days and dead-letters after 10 receives', () => {
    template.hasResourceProperties(SQS, {
      MaximumMessageSize: 1_048_576,
      MessageRetentionPeriod: 14 * 24 * 3600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arnOf(SQS, DLQ), maxReceiveCount: 10 },
    });
  });

  it('keeps dead letters at least as long as the delivery queue keeps messages', () => {
    const [, queue] = onlyResource(template, SQS, QUEUE);
    const [, deadLetterQueue] = onlyResource(template, SQS, DLQ);

    expect(deadLetterQueue.Properties.MessageRetentionPeriod).toBeGreaterThanOrEqual(
      queue.Properties.MessageRetentionPeriod as number,
    );
    expect(deadLetterQueue.Properties).toMatchObject({
      MaximumMessageSize: 1_048_576,
      SqsManagedSseEnabled: true,
    });
    expect(deadLetterQueue.Properties.RedrivePolicy).toBeUndefined();
  });

  it.each([QUEUE, DLQ])('refuses plain-HTTP access to %s', (queuePrefix) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(SQS, queuePrefix)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it.each([
    [QUEUE, 'DeliveryPipelineDeliveryFunction'],
    [DLQ, 'DeliveryPipelineDeadLetterFunction'],
  ])(
    'gives %s a visibility timeout of at least 6x its consumer function timeout',
    (queuePrefix, functionPrefix) => {
      const [, queue] = onlyResource(template, SQS, queuePrefix);
      const [, fn] = onlyResource(template, FUNCTION, functionPrefix);

      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * (fn.Properties.Timeout as number),
      );
    },
  );

  it('gives the delivery function the longest attempt plus a minute', () => {
    template.hasResourceProperties(FUNCTION, {
      Description: Match.stringLikeRegexp('^sqstash delivery'),
      Timeout: 360,
      MemorySize: 512,
    });
    const [, queue] = onlyResource(template, SQS, QUEUE);
    expect(queue.Properties.VisibilityTimeout).toBe(2160);
  });
});

describe('SqstashStack: event sources', () => {
  it('feeds the delivery function batches of 10 with partial batch responses and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(SQS, QUEUE),
      FunctionName: ref(FUNCTION, 'DeliveryPipelineDeliveryFunction'),
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('feeds the dead-letter function from the dead-letter queue with partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(SQS, DLQ),
      FunctionName: ref(FUNCTION, 'DeliveryPipelineDeadLetterFunction'),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });
});

describe('SqstashStack: table', () => {
  it('is on-demand with TTL on `ttl`, point-in-time recovery and the shared schema, without indexes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: Match.absent(),
    });
  });

  it('outlives the stack', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('SqstashStack: functions', () => {
  it('runs all three on arm64 Node 24 from bundled code', () => {
    template.resourceCountIs(FUNCTION, 3);
    for (const [, fn] of Object.entries(template.findResources(FUNCTION))) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    }
  });

  it('sets every variable in AWS_ENV except those left to the runtime default, on every function', () => {
    const leftUnset: string[] = [
      AWS_ENV.maxBodyBytes,
      AWS_ENV.backoffCoefficient,
      AWS_ENV.workflowInlineStepsBytes,
      AWS_ENV.flowControlGlobalParallelism,
    ];
    const expectedNames = [
      ...Object.values(AWS_ENV).filter((name) => !leftUnset.includes(name)),
      'NODE_OPTIONS',
    ].sort();
    for (const [, fn] of Object.entries(template.findResources(FUNCTION))) {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect(Object.keys(variables).sort()).toEqual(expectedNames);
    }
  });

  it('points the functions at the stack resources and the configured limits', () => {
    template.hasResourceProperties(FUNCTION, {
      Description: Match.stringLikeRegexp('^sqstash API'),
      Timeout: 29,
      Environment: {
        Variables: {
          [AWS_ENV.tableName]: ref('AWS::DynamoDB::Table', 'StorageTable'),
          [AWS_ENV.deliveryQueueUrl]: ref(SQS, QUEUE),
          [AWS_ENV.deliveryQueueArn]: arnOf(SQS, QUEUE),
          [AWS_ENV.schedulerRoleArn]: arnOf('AWS::IAM::Role', 'SchedulingRole'),
          [AWS_ENV.tokenSecretArn]: ref('AWS::SecretsManager::Secret', 'SecretsToken'),
          [AWS_ENV.signingKeysSecretArn]: ref('AWS::SecretsManager::Secret', 'SecretsSigningKeys'),
          [AWS_ENV.maxRetries]: '5',
          [AWS_ENV.defaultRetries]: '3',
          [AWS_ENV.maxTimeout]: '300s',
          [AWS_ENV.dedupWindow]: `${90 * 86_400}s`,
          [AWS_ENV.retention]: `${14 * 86_400}s`,
          [AWS_ENV.visibility]: 'eventual',
          [AWS_ENV.functionTimeout]: '29s',
          [AWS_ENV.tracing]: 'false',
          [AWS_ENV.logLevel]: 'INFO',
          [AWS_ENV.serviceName]: 'sqstash',
          [AWS_ENV.metricsNamespace]: 'sqstash',
          [AWS_ENV.allowLoopbackDestinations]: 'false',
          [AWS_ENV.allowPrivateDestinations]: 'false',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('gives each function its own log group with a bounded retention, JSON logs and none of Lambda’s own lines below WARN', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 4);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    for (const [, fn] of Object.entries(template.findResources(FUNCTION))) {
      // Lambda passes every application line (the EMF lines have no level); Powertools filters.
      expect(fn.Properties.LoggingConfig).toEqual({
        LogGroup: { Ref: expect.any(String) },
        LogFormat: 'JSON',
        SystemLogLevel: 'WARN',
        ApplicationLogLevel: 'TRACE',
      });
    }
  });

  it('leaves X-Ray tracing off by default', () => {
    for (const [, fn] of Object.entries(template.findResources(FUNCTION))) {
      expect(fn.Properties.TracingConfig).toBeUndefined();
    }
  });
});

describe('SqstashStack: least-privilege grants', () => {
  const TABLE_RW = [
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
    'dynamodb:DescribeTable',
    'dynamodb:GetItem',
    'dynamodb:GetRecords',
    'dynamodb:GetShardIterator',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:UpdateItem',
  ];
  const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
  const SEND = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
  const CONSUME = [
    'sqs:ChangeMessageVisibility',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:GetQueueUrl',
    'sqs:ReceiveMessage',
  ];
  const SCHEDULE = ['iam:PassRole', 'scheduler:CreateSchedule', 'scheduler:UpdateSchedule'];
  const DELETE_SCHEDULE = ['scheduler:DeleteSchedule'];
  const READ_SECRET = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
  const WRITE_SECRET = [
    'secretsmanager:PutSecretValue',
    'secretsmanager:UpdateSecret',
    'secretsmanager:UpdateSecretVersionStage',
  ];

  it('lets the API function use the table, send, manage schedules, read both secrets and write the signing keys, nothing more', () => {
    expect(allActionsOf(API_ROLE)).toEqual(
      [
        ...LOGS,
        ...TABLE_RW,
        ...SEND,
        ...SCHEDULE,
        ...DELETE_SCHEDULE,
        ...READ_SECRET,
        ...WRITE_SECRET,
      ].sort(),
    );
    expect(resourcesFor(API_ROLE, 'secretsmanager:PutSecretValue')).toEqual([
      ref('AWS::SecretsManager::Secret', 'SecretsSigningKeys'),
    ]);
  });

  it('lets the delivery function consume and send on the delivery queue, use the table, manage and list schedules and read the signing keys', () => {
    expect(allActionsOf(DELIVERY_ROLE)).toEqual(
      [
        ...LOGS,
        ...CONSUME,
        'sqs:SendMessage',
        ...TABLE_RW,
        ...SCHEDULE,
        ...DELETE_SCHEDULE,
        'scheduler:ListSchedules',
        ...READ_SECRET,
      ].sort(),
    );
    expect(resourcesFor(DELIVERY_ROLE, 'sqs:ChangeMessageVisibility')).toEqual([arnOf(SQS, QUEUE)]);
    // It signs deliveries; it serves no API, so the token is not its business.
    expect(resourcesFor(DELIVERY_ROLE, 'secretsmanager:GetSecretValue')).toEqual([
      ref('AWS::SecretsManager::Secret', 'SecretsSigningKeys'),
    ]);
  });

  it('lets the dead-letter function consume the dead-letter queue, send to the delivery queue and use the table, nothing more', () => {
    expect(allActionsOf(DEAD_LETTER_ROLE)).toEqual(
      [...LOGS, ...CONSUME, ...SEND, ...TABLE_RW].sort(),
    );
    expect(resourcesFor(DEAD_LETTER_ROLE, 'sqs:ReceiveMessage')).toEqual([arnOf(SQS, DLQ)]);
    expect(resourcesFor(DEAD_LETTER_ROLE, 'sqs:SendMessage')).toEqual([arnOf(SQS, QUEUE)]);
  });

  it.each([API_ROLE, DELIVERY_ROLE, DEAD_LETTER_ROLE])(
    'scopes %s to this table, its queues and its own log group',
    (rolePrefix) => {
      expect(resourcesFor(rolePrefix, 'dynamodb:PutItem')).toEqual([
        arnOf('AWS::DynamoDB::Table', 'StorageTable'),
      ]);
      const functionPrefix = rolePrefix.replace(/Role$/, '');
      expect(resourcesFor(rolePrefix, 'logs:PutLogEvents')).toEqual([
        arnOf('AWS::Logs::LogGroup', `${functionPrefix}LogGroup`),
      ]);
    },
  );

  it('uses no managed policies, passes only the scheduler role, and schedules only in its group', () => {
    const scheduleArns = [
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':scheduler:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:schedule/${built.stack.scheduling.scheduleGroup.scheduleGroupName}/*`,
          ],
        ],
      },
    ];
    for (const [, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    for (const rolePrefix of [API_ROLE, DELIVERY_ROLE]) {
      expect(resourcesFor(rolePrefix, 'iam:PassRole')).toEqual([
        arnOf('AWS::IAM::Role', 'SchedulingRole'),
      ]);
      expect(resourcesFor(rolePrefix, 'scheduler:CreateSchedule')).toEqual(scheduleArns);
      expect(resourcesFor(rolePrefix, 'scheduler:DeleteSchedule')).toEqual(scheduleArns);
    }
  });

  it('lets the scheduler role only send to the delivery queue, and only Scheduler assume it', () => {
    expect(statementsOf('SchedulingRole')).toEqual([
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: arnOf(SQS, QUEUE) },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: Match.objectLike({
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            }),
          }),
        ],
      },
    });
  });
});

describe('SqstashStack: scheduler and secrets', () => {
  it('creates one schedule group, and in it one schedule: the reconcile pass, every 10 minutes', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      GroupName: built.stack.scheduling.scheduleGroup.scheduleGroupName,
      ScheduleExpression: 'rate(10 minutes)',
      Target: Match.objectLike({
        Arn: arnOf(SQS, QUEUE),
        RoleArn: arnOf('AWS::IAM::Role', 'SchedulingRole'),
        Input: encodeReconcileBody(),
      }),
    });
    template.hasResourceProperties(FUNCTION, {
      Environment: {
        Variables: Match.objectLike({
          [AWS_ENV.scheduleGroupName]: built.stack.scheduling.scheduleGroup.scheduleGroupName,
        }),
      },
    });
  });

  it('generates the token as {"token": ...} with 48 letters and digits', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{}',
        GenerateStringKey: 'token',
        ExcludePunctuation: true,
        PasswordLength: 48,
      },
    });
  });

  it('composes the signing keys as {"current": "sig_...", "next": "sig_..."} from two generated seeds, with no value in the template', () => {
    const [, keys] = onlyResource(template, 'AWS::SecretsManager::Secret', 'SecretsSigningKeys');
    const seedRef = (seed: string) => ref('AWS::SecretsManager::Secret', seed);
    expect(keys.Properties.SecretString).toEqual({
      'Fn::Join': [
        '',
        [
          '{"current":"sig_{{resolve:secretsmanager:',
          seedRef('SecretsCurrentSigningKeySeed'),
          ':SecretString:key::}}","next":"sig_{{resolve:secretsmanager:',
          seedRef('SecretsNextSigningKeySeed'),
          ':SecretString:key::}}"}',
        ],
      ],
    });
    for (const seed of ['SecretsCurrentSigningKeySeed', 'SecretsNextSigningKeySeed']) {
      const [, secret] = onlyResource(template, 'AWS::SecretsManager::Secret', seed);
      expect(secret.Properties.GenerateSecretString).toEqual({
        SecretStringTemplate: '{}',
        GenerateStringKey: 'key',
        ExcludePunctuation: true,
        PasswordLength: 48,
      });
    }
  });

  it('outputs the API URL and where to read the credentials', () => {
    template.hasOutput('*', {
      Value: {
        'Fn::GetAtt': [logicalId('AWS::ApiGatewayV2::Api', 'ApiHttpApi'), 'ApiEndpoint'],
      },
    });
    template.hasOutput('*', { Value: ref('AWS::SecretsManager::Secret', 'SecretsToken') });
    template.hasOutput('*', { Value: ref('AWS::SecretsManager::Secret', 'SecretsSigningKeys') });
  });

  it('never puts a literal credential in the template', () => {
    const secrets = Object.values(template.findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(4);
    const literal = JSON.stringify(secrets.map((secret) => secret.Properties.SecretString ?? ''));
    expect(literal).not.toMatch(/sig_[A-Za-z0-9]{8}/);
    expect(JSON.stringify(template.toJSON())).not.toContain('eyJVc2VySUQiOiJkZWZhdWx0VXNlciIs');
  });
});

describe('SqstashStack: API', () => {
  it('routes every method under /v2 to the API function with payload format 2.0', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /v2/{proxy+}' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: arnOf(FUNCTION, 'ApiHandlerFunction'),
    });
  });

  it('serves on the $default stage with access logs that never include the query string', () => {
    const [, stage] = onlyResource(template, 'AWS::ApiGatewayV2::Stage', 'ApiHttpApi');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: { DestinationArn: arnOf('AWS::Logs::LogGroup', 'ApiAccessLogs') },
    });
    const format = (stage.Properties.AccessLogSettings as { Format: string }).Format;
    expect(JSON.parse(format)).toMatchObject({ requestId: '$context.requestId' });
    expect(format).not.toMatch(/querystring|rawQuery/i);
  });
});

describe('SqstashStack: the Function URL front door (sqstash:frontDoor=functionUrl)', () => {
  let behindUrl: Template;
  beforeAll(() => {
    behindUrl = buildStack({}, { [CONTEXT_KEYS.frontDoor]: 'functionUrl' }).template;
  });

  it('serves the API function from a Function URL open to the internet, the token its lock, and no API Gateway', () => {
    behindUrl.resourceCountIs('AWS::Lambda::Url', 1);
    behindUrl.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: {
        'Fn::GetAtt': [onlyResource(behindUrl, FUNCTION, 'ApiHandlerFunction')[0], 'Arn'],
      },
    });
    behindUrl.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    });
    for (const type of ['AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::Route']) {
      behindUrl.resourceCountIs(type, 0);
    }
    const [urlId] = onlyResource(behindUrl, 'AWS::Lambda::Url', 'ApiHandlerFunction');
    behindUrl.hasOutput('*', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
  });

  it('keeps one log group per function and nothing for an access log', () => {
    behindUrl.resourceCountIs('AWS::Logs::LogGroup', 3);
  });
});

describe('SqstashStack: monitoring', () => {
  it('alarms when an entry waits a whole period in the dead-letter queue, or its function fails on one', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [
        Match.objectLike({
          Expression: 'IF(waiting >= 1 OR FILL(failures, 0) >= 1, 1, 0)',
          ReturnData: true,
        }),
        {
          Id: 'waiting',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateNumberOfMessagesVisible',
              Dimensions: [
                { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(SQS, DLQ), 'QueueName'] } },
              ],
            },
            Period: 300,
            Stat: 'Minimum',
          },
          ReturnData: false,
        },
        {
          Id: 'failures',
          MetricStat: {
            Metric: {
              Namespace: 'sqstash',
              MetricName: 'DeadLetterFailures',
              Dimensions: [{ Name: 'service', Value: 'sqstash' }],
            },
            Period: 300,
            Stat: 'Sum',
          },
          ReturnData: false,
        },
      ],
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms when the oldest delivery-queue message is 30 minutes old', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(SQS, QUEUE), 'QueueName'] } },
      ],
      Threshold: 1800,
    });
  });

  it.each([
    'ApiHandlerFunction',
    'DeliveryPipelineDeliveryFunction',
    'DeliveryPipelineDeadLetterFunction',
  ])('alarms on any error of %s', (functionPrefix) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(FUNCTION, functionPrefix) }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('has five alarms and no alarm actions unless a topic is configured', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: Match.absent() });
  });

  it('draws the message counters, queue depth and age, and function errors and throttles', () => {
    const [, dashboard] = onlyResource(template, 'AWS::CloudWatch::Dashboard', 'Monitoring');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of ['Published', 'Delivered', 'Retried', 'Failed', 'DeadLetterFailures']) {
      expect(body).toContain(`\\"sqstash\\",\\"${metric}\\",\\"service\\",\\"sqstash\\"`);
    }
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
      'Errors',
      'Throttles',
    ]) {
      expect(body).toContain(metric);
    }
  });
});

describe('SqstashStack: settings', () => {
  it('carries props into the queue, the event source, the functions and the alarms', () => {
    const { template: custom } = buildStack({
      maxRetries: 20,
      maxReceiveCount: 45,
      deliveryConcurrency: 50,
      maxAttemptTimeout: Duration.minutes(10),
      tracing: true,
      logLevel: 'DEBUG',
      logRetentionDays: 90,
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
    });

    custom.hasResourceProperties(SQS, {
      VisibilityTimeout: 6 * 660,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 45 }),
    });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 50 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    custom.hasResourceProperties(FUNCTION, {
      Timeout: 660,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          [AWS_ENV.maxRetries]: '20',
          [AWS_ENV.maxTimeout]: '600s',
          [AWS_ENV.logLevel]: 'DEBUG',
        }),
      },
    });
    custom.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    custom.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
      OKActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
    });
  });

  it('reads the same settings from CDK context', () => {
    const { template: custom } = buildStack(
      {},
      {
        [CONTEXT_KEYS.deliveryConcurrency]: '25',
        [CONTEXT_KEYS.maxReceiveCount]: '100',
        [CONTEXT_KEYS.flowControlGlobalParallelism]: '40',
      },
    );
    for (const [, fn] of Object.entries(custom.findResources(FUNCTION))) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        [AWS_ENV.flowControlGlobalParallelism]: '40',
      });
    }

    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 25 },
    });
    custom.hasResourceProperties(SQS, {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 100 }),
    });
  });

  it('synthesizes without an account or region, so synth needs no credentials', () => {
    expect(built.stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(Token.isUnresolved(built.stack.account)).toBe(true);
  });
});
