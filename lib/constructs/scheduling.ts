import type { CfnElement } from 'aws-cdk-lib';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { encodeReconcileBody } from '../../lambdas/adapters/aws/sqs-entries';
import { acknowledge } from '../acknowledge';

/** How often the reconcile pass runs. */
export const RECONCILE_EVERY = Duration.minutes(10);

export type SchedulingProps = {
  /** The queue schedules send to: the delivery queue. */
  readonly targetQueue: sqs.IQueue;
};

/**
 * EventBridge Scheduler, ready for the schedules the runtime creates: cron schedules
 * (`Upstash-Cron`) and delays longer than SQS's 15 minutes (one-time `at()` schedules). Holds
 * the schedule group they live in and the role they assume, which may only send to the
 * delivery queue. The stack creates no schedules itself.
 */
export class Scheduling extends Construct {
  public readonly scheduleGroup: scheduler.ScheduleGroup;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: SchedulingProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // Setup the group; CloudFormation names it, so stages never collide.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Group', {});

    // Setup the role. Only Scheduler, on behalf of this account's schedules in this group, may
    // assume it (confused-deputy protection).
    this.role = new iam.Role(this, 'Role', {
      description: 'sqstash: assumed by EventBridge Scheduler to send due messages',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'scheduler',
              resource: 'schedule',
              resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
            }),
          },
        },
      }),
    });
    props.targetQueue.grant(this.role, 'sqs:SendMessage');
  }

  /**
   * Lets `grantee` create and update schedules in the group and hand them the role: what a
   * long delay (a one-time schedule) and a cron schedule (created, then updated to pause or
   * resume it) need. One-time schedules delete themselves after firing
   * (`ActionAfterCompletion: DELETE`).
   */
  public grantCreateSchedules(grantee: iam.Role): void {
    this.scheduleGroup.grantWriteSchedules(grantee);
    this.role.grantPassRole(grantee);
    this.#acknowledgeGroupWildcard(grantee);
  }

  /** Lets `grantee` delete schedules in the group: what deleting a cron schedule needs. */
  public grantDeleteSchedules(grantee: iam.Role): void {
    this.scheduleGroup.grantDeleteSchedules(grantee);
    this.#acknowledgeGroupWildcard(grantee);
  }

  /**
   * Lets `grantee` list the group's schedules: what the reconcile pass needs. ListSchedules
   * supports no resource-level permissions, so the caller acknowledges the wildcard.
   */
  public grantListSchedules(grantee: iam.Role): iam.PolicyStatement {
    const statement = new iam.PolicyStatement({
      actions: ['scheduler:ListSchedules'],
      resources: ['*'],
    });
    grantee.addToPolicy(statement);
    return statement;
  }

  /**
   * The schedule that starts the reconcile pass (lambdas/aws/reconcile.ts) every 10 minutes,
   * through the delivery queue.
   */
  public addReconcileSchedule(queue: sqs.IQueue): scheduler.Schedule {
    return new scheduler.Schedule(this, 'Reconcile', {
      description: 'sqstash: the reconcile pass (schedules with EventBridge, FIFO queues)',
      scheduleGroup: this.scheduleGroup,
      schedule: scheduler.ScheduleExpression.rate(RECONCILE_EVERY),
      target: new targets.SqsSendMessage(queue, {
        role: this.role,
        input: scheduler.ScheduleTargetInput.fromText(encodeReconcileBody()),
      }),
    });
  }

  readonly #acknowledged = new Set<iam.Role>();

  #acknowledgeGroupWildcard(grantee: iam.Role): void {
    if (this.#acknowledged.has(grantee)) return;
    this.#acknowledged.add(grantee);
    // The group's name is generated at synth time, so the finding names it literally.
    const groupName = Token.isUnresolved(this.scheduleGroup.scheduleGroupName)
      ? `<${Stack.of(this).getLogicalId(this.scheduleGroup.node.defaultChild as CfnElement)}>`
      : this.scheduleGroup.scheduleGroupName;
    acknowledge(
      grantee,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${groupName}/*]`,
      "Schedule names are generated per message and per cron schedule at runtime; the grant covers only schedules in this stack's schedule group.",
    );
  }
}
