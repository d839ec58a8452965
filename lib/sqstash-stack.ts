import { Duration, Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { SqstashConfig, SqstashStackProps } from './config';
import { resolveSqstashConfig } from './config';
import { Api } from './constructs/api';
import { DEAD_LETTER_TIMEOUT_SEC, DeliveryPipeline } from './constructs/delivery-pipeline';
import { DeliveryQueues } from './constructs/delivery-queues';
import { Monitoring } from './constructs/monitoring';
import { Scheduling } from './constructs/scheduling';
import { Secrets } from './constructs/secrets';
import { Storage } from './constructs/storage';
import { lambdaEnvironment, METRICS_NAMESPACE, SERVICE_NAME } from './lambda-environment';

/**
 * sqstash on AWS: API Gateway HTTP API (or a Lambda Function URL) -> API function; DynamoDB;
 * an SQS delivery queue with a dead-letter queue, each consumed by a function; EventBridge
 * Scheduler for crons, long delays and the reconcile pass; generated secrets; a dashboard and
 * alarms. Settings come from props or CDK context (see `SqstashSettings`). Construct IDs below
 * are a contract: renaming one replaces the resource (and, for the table and the secrets, its
 * data).
 */
export class SqstashStack extends Stack {
  /** The settings the stack was built with, defaults applied. */
  public readonly config: SqstashConfig;
  public readonly storage: Storage;
  public readonly secrets: Secrets;
  public readonly queues: DeliveryQueues;
  public readonly scheduling: Scheduling;
  public readonly api: Api;
  public readonly pipeline: DeliveryPipeline;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: SqstashStackProps = {}) {
    super(scope, id, props);
    this.config = resolveSqstashConfig(props, (key) => this.node.tryGetContext(key));
    const config = this.config;
    const deadLetterTimeout = Duration.seconds(DEAD_LETTER_TIMEOUT_SEC);
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    // Setup the state: table, secrets, queues, scheduler.
    this.storage = new Storage(this, 'Storage');
    this.secrets = new Secrets(this, 'Secrets');
    this.queues = new DeliveryQueues(this, 'DeliveryQueues', {
      deliveryFunctionTimeout: config.deliveryTimeout,
      deadLetterFunctionTimeout: deadLetterTimeout,
      maxReceiveCount: config.maxReceiveCount,
    });
    this.scheduling = new Scheduling(this, 'Scheduling', { targetQueue: this.queues.queue });
    this.scheduling.addReconcileSchedule(this.queues.queue);

    // Setup the functions, all with the same environment.
    const environment = lambdaEnvironment(
      {
        tableName: this.storage.table.tableName,
        deliveryQueueUrl: this.queues.queue.queueUrl,
        deliveryQueueArn: this.queues.queue.queueArn,
        scheduleGroupName: this.scheduling.scheduleGroup.scheduleGroupName,
        schedulerRoleArn: this.scheduling.role.roleArn,
        tokenSecretArn: this.secrets.tokenSecret.secretArn,
        signingKeysSecretArn: this.secrets.signingKeysSecret.secretArn,
      },
      config,
    );
    this.api = new Api(this, 'Api', {
      frontDoor: config.frontDoor,
      environment,
      timeout: config.apiTimeout,
      logRetention,
      tracing: config.tracing,
    });
    this.pipeline = new DeliveryPipeline(this, 'DeliveryPipeline', {
      queues: this.queues,
      environment,
      deliveryTimeout: config.deliveryTimeout,
      deadLetterTimeout,
      deliveryConcurrency: config.deliveryConcurrency,
      logRetention,
      tracing: config.tracing,
    });

    // Setup the permissions, each function's in one place. Consuming a queue (receive, delete,
    // change visibility) is granted by its event source.
    const { table } = this.storage;
    const { tokenSecret, signingKeysSecret } = this.secrets;
    const { queue } = this.queues;
    const apiRole = this.api.handler.role;
    table.grantReadWriteData(apiRole);
    queue.grantSendMessages(apiRole);
    // Long delays and cron schedules: create, pause and resume (update), delete.
    this.scheduling.grantCreateSchedules(apiRole);
    this.scheduling.grantDeleteSchedules(apiRole);
    tokenSecret.grantRead(apiRole);
    signingKeysSecret.grantRead(apiRole);
    // POST /v2/keys/rotate writes the rotated pair.
    signingKeysSecret.grantWrite(apiRole);

    const deliveryRole = this.pipeline.deliveryFunction.role;
    table.grantReadWriteData(deliveryRole);
    // Retries, callbacks, FIFO starts and cron ticks' messages are new entries; retries backing
    // off past 15 minutes go through a schedule; a tick of a deleted cron schedule deletes its
    // leftover, and the reconcile pass lists, puts back and deletes schedules. It signs, with
    // the keys only: it serves no API, so the token is not its business.
    queue.grantSendMessages(deliveryRole);
    this.scheduling.grantCreateSchedules(deliveryRole);
    this.scheduling.grantDeleteSchedules(deliveryRole);
    this.scheduling.grantListSchedules(deliveryRole);
    this.pipeline.deliveryFunction.allowWildcard(
      "scheduler:ListSchedules supports no resource-level permissions; the reconcile pass lists this stack's schedule group with it (GroupName), and may change only schedules in that group.",
    );
    signingKeysSecret.grantRead(deliveryRole);

    const deadLetterRole = this.pipeline.deadLetterFunction.role;
    table.grantReadWriteData(deadLetterRole);
    // An entry goes back in line, and a given-up message's failure callback is a new entry; it
    // schedules nothing and signs nothing.
    queue.grantSendMessages(deadLetterRole);

    // Setup the dashboard and alarms.
    this.monitoring = new Monitoring(this, 'Monitoring', {
      deliveryQueue: queue,
      deadLetterQueue: this.queues.deadLetterQueue,
      functions: {
        Api: this.api.handler.function,
        Delivery: this.pipeline.deliveryFunction.function,
        DeadLetter: this.pipeline.deadLetterFunction.function,
      },
      metricsNamespace: METRICS_NAMESPACE,
      serviceName: SERVICE_NAME,
      oldestMessageAgeThreshold: config.oldestMessageAgeAlarm,
      ...(config.alarmTopicArn && {
        alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn),
      }),
    });
  }
}
