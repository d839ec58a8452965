import type { CfnElement } from 'aws-cdk-lib';
import { Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { SqstashStackProps } from '../../lib/config';
import { buildStack } from './cdk-app';

type Violation = { ruleName: string; severity: string; paths: string[] };

/** Runs cdk-nag's AwsSolutions pack over the app; every finding not acknowledged, errors and warnings. */
function violationsOf(scope: IConstruct): Violation[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.map((violation) => ({
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
  ])('finds nothing unacknowledged, errors or warnings, in %s', (_name, props) => {
    const { app } = buildStack(props);

    expect(violationsOf(app)).toEqual([]);
  });

  it('acknowledges exactly these findings, each with a specific reason', () => {
    const { app, stack } = buildStack({ tracing: true });
    const groupName = stack.scheduling.scheduleGroup.scheduleGroupName;
    const tableId = stack.getLogicalId(stack.storage.table.node.defaultChild as CfnElement);
    const scheduleFinding = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${groupName}/*]`;
    const indexFinding = `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`;

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
        `Sqstash/DeliveryPipeline/DeadLetter/Role: ${scheduleFinding}`,
        `Sqstash/Api/Handler/Role: ${indexFinding}`,
        `Sqstash/DeliveryPipeline/Delivery/Role: ${indexFinding}`,
        `Sqstash/DeliveryPipeline/DeadLetter/Role: ${indexFinding}`,
        'Sqstash/Api/Handler/Role: AwsSolutions-IAM5[Resource::*]',
        'Sqstash/DeliveryPipeline/Delivery/Role: AwsSolutions-IAM5[Resource::*]',
        'Sqstash/DeliveryPipeline/DeadLetter/Role: AwsSolutions-IAM5[Resource::*]',
      ].sort(),
    );
    for (const reason of acknowledged.values()) {
      expect(reason.length).toBeGreaterThan(60);
    }
  });

  it('does not acknowledge the X-Ray wildcard when tracing is off', () => {
    const { app } = buildStack();

    expect([...acknowledgementsOf(app).keys()].some((key) => key.endsWith('[Resource::*]'))).toBe(
      false,
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
