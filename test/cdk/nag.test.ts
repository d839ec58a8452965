import { Stack, Validations } from 'aws-cdk-lib';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { SqstashStackProps } from '../../lib/config';
import { FUNCTION_URL_AUTH_RULE, SqstashChecks } from '../../lib/nag-checks';
import { buildStack } from './cdk-app';

type Violation = { ruleName: string; severity: string; paths: string[] };

/**
 * Runs cdk-nag's AwsSolutions pack and the stack's own checks over the app, as bin/app.ts does;
 * every finding not acknowledged, errors and warnings.
 */
function violationsOf(scope: IConstruct): Violation[] {
  const reports = [new AwsSolutionsChecks(), new SqstashChecks()].map((pack) =>
    pack.validateScope(scope),
  );
  return reports
    .flatMap((report) => report.violations)
    .map((violation) => ({
      ruleName: violation.ruleName,
      severity: violation.severity ?? 'error',
      paths: violation.violatingResources.map(
        (resource) => resource.constructPath ?? resource.resourceLogicalId ?? '?',
      ),
    }));
}

/** Every acknowledgement in the tree, as `path: findingId` -> reason. */
function acknowledgementsOf(scope: IConstruct): Map<string, string> {
  const found = new Map<string, string>();
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.set(`${construct.node.path}: ${id.replace(/^annotation::/i, '')}`, reason);
      }
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  it.each<[string, SqstashStackProps]>([
    ['the default stack', {}],
    [
      'a stack with tracing and an alarm topic',
      {
        tracing: true,
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
      },
    ],
    ['a stack behind a Function URL', { frontDoor: 'functionUrl' }],
  ])('finds nothing unacknowledged, errors or warnings, in %s', (_name, props) => {
    const { app } = buildStack(props);

    expect(violationsOf(app)).toEqual([]);
  });

  it('acknowledges exactly these findings, each with a specific reason', () => {
    const { app, stack } = buildStack({ tracing: true });
    const groupName = stack.scheduling.scheduleGroup.scheduleGroupName;
    const scheduleFinding = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${groupName}/*]`;

    const acknowledged = acknowledgementsOf(app);

    expect([...acknowledged.keys()].sort()).toEqual(
      [
        'Sqstash/Secrets/Token: AwsSolutions-SMG4',
        'Sqstash/Secrets/SigningKeys: AwsSolutions-SMG4',
        'Sqstash/Secrets/CurrentSigningKeySeed: AwsSolutions-SMG4',
        'Sqstash/Secrets/NextSigningKeySeed: AwsSolutions-SMG4',
        'Sqstash/Api/HttpApi: AwsSolutions-APIG4',
        `Sqstash/Api/Handler/Role: ${scheduleFinding}`,
        `Sqstash/DeliveryPipeline/Delivery/Role: ${scheduleFinding}`,
        'Sqstash/Api/Handler/Role: AwsSolutions-IAM5[Resource::*]',
        'Sqstash/DeliveryPipeline/Delivery/Role: AwsSolutions-IAM5[Resource::*]',
        'Sqstash/DeliveryPipeline/DeadLetter/Role: AwsSolutions-IAM5[Resource::*]',
      ].sort(),
    );
    for (const reason of acknowledged.values()) {
      expect(reason.length).toBeGreaterThan(60);
    }
  });

  it('acknowledges a wildcard only for scheduler:ListSchedules when tracing is off', () => {
    const { app } = buildStack();

    const wildcards = [...acknowledgementsOf(app)].filter(([key]) => key.endsWith('[Resource::*]'));

    expect(wildcards).toEqual([
      [
        'Sqstash/DeliveryPipeline/Delivery/Role: AwsSolutions-IAM5[Resource::*]',
        expect.stringMatching(/^scheduler:ListSchedules supports no resource-level permissions/),
      ],
    ]);
  });

  it('acknowledges the open Function URL, and only with that front door', () => {
    const behindUrl = acknowledgementsOf(buildStack({ frontDoor: 'functionUrl' }).app);
    const behindApi = acknowledgementsOf(buildStack().app);

    const urlFinding = `Sqstash/Api/Handler/Function/FunctionUrl: ${FUNCTION_URL_AUTH_RULE}`;
    expect(behindUrl.get(urlFinding)).toMatch(/cannot sign requests with SigV4/);
    expect(behindUrl.has('Sqstash/Api/HttpApi: AwsSolutions-APIG4')).toBe(false);
    expect(behindApi.has(urlFinding)).toBe(false);
  });

  it('finds an open Function URL nobody acknowledged', () => {
    const { app, stack } = buildStack();
    stack.api.handler.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });

    expect(violationsOf(app).map((violation) => violation.ruleName)).toContain(
      FUNCTION_URL_AUTH_RULE,
    );
  });

  it('fails on a finding nobody acknowledged (the check is not vacuous)', () => {
    const { app, stack } = buildStack();
    new sqs.Queue(Stack.of(stack), 'UnencryptedQueueWithoutDlq', {
      encryption: sqs.QueueEncryption.UNENCRYPTED,
    });

    expect(violationsOf(app).map((violation) => violation.ruleName)).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
    );
  });
});
