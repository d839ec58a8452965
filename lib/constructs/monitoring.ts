import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The counters the functions emit with Powertools Metrics (EMF), one per delivery outcome. */
export const MESSAGE_METRICS = ['Published', 'Delivered', 'Retried', 'Failed'] as const;
/** Entries of the dead-letter queue its function could not handle, or dropped. */
export const DEAD_LETTER_FAILURES_METRIC = 'DeadLetterFailures';
const PERIOD = Duration.minutes(5);

export type MonitoringProps = {
  /** The delivery queue: its oldest message's age is watched. */
  readonly deliveryQueue: sqs.IQueue;
  /** The dead-letter queue: its depth is watched. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The functions whose errors and throttles are watched, by a short label (`Api`, ...). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** CloudWatch namespace of the custom metrics (`POWERTOOLS_METRICS_NAMESPACE`). */
  readonly metricsNamespace: string;
  /** Value of the `service` dimension Powertools adds (`POWERTOOLS_SERVICE_NAME`). */
  readonly serviceName: string;
  /** Age of the delivery queue's oldest message at which the alarm fires. */
  readonly oldestMessageAgeThreshold: Duration;
  /**
   * Topic every alarm notifies, on alarm and on recovery.
   * @default - no notification; alarms show on the dashboard and in the console
   */
  readonly alarmTopic?: sns.ITopic;
};

/**
 * A CloudWatch dashboard (published, delivered, retried and failed messages; dead-letter queue
 * depth; age of the oldest message; Lambda errors and throttles) and the alarms an operator acts
 * on: a dead-letter queue that is not draining, a delivery backlog, and function errors.
 */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly deadLetterQueueDepthAlarm: cloudwatch.Alarm;
  public readonly oldestMessageAgeAlarm: cloudwatch.Alarm;
  /** One errors alarm per function, by the label given in `functions`. */
  public readonly functionErrorAlarms: Readonly<Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const labels = Object.keys(props.functions);
    if (labels.length === 0) {
      throw new Error('Invalid Monitoring props:\n  - functions is empty; give at least one');
    }

    // Setup the alarms.
    const messageMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: props.metricsNamespace,
        metricName,
        dimensionsMap: { service: props.serviceName },
        statistic: cloudwatch.Stats.SUM,
        period: PERIOD,
      });
    // Entries reach the SQS dead-letter queue when an attempt's entry kept failing (crashes,
    // timeouts, throttles, faults of the delivery function). The dead-letter function takes each
    // within seconds and puts it back in line or gives its message up, so an entry still
    // waiting after a whole period means it is not draining (throttled, disabled or failing),
    // and an entry it could not handle or had to drop is counted in DeadLetterFailures, which
    // would otherwise leave no trace in the queue's depth. Either raises the alarm; crashes of
    // the functions raise their errors alarms.
    this.deadLetterQueueDepthAlarm = new cloudwatch.Alarm(this, 'DeadLetterQueueDepthAlarm', {
      alarmDescription:
        'sqstash: entries waited a whole period in the SQS dead-letter queue, or the dead-letter function failed on an entry (DeadLetterFailures)',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(waiting >= 1 OR FILL(failures, 0) >= 1, 1, 0)',
        usingMetrics: {
          waiting: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            statistic: cloudwatch.Stats.MINIMUM,
            period: PERIOD,
          }),
          failures: messageMetric(DEAD_LETTER_FAILURES_METRIC),
        },
        period: PERIOD,
        label: 'Dead-letter queue not draining, or failing',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.oldestMessageAgeAlarm = new cloudwatch.Alarm(this, 'OldestMessageAgeAlarm', {
      alarmDescription: `sqstash: the oldest message in the delivery queue is older than ${props.oldestMessageAgeThreshold.toHumanString()} (deliveries are falling behind)`,
      metric: props.deliveryQueue.metricApproximateAgeOfOldestMessage({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: PERIOD,
      }),
      threshold: props.oldestMessageAgeThreshold.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // Failed deliveries are not function errors (they are partial batch failures); an error is
    // a crash or a timeout.
    const errorAlarms: Record<string, cloudwatch.Alarm> = {};
    for (const [label, fn] of Object.entries(props.functions)) {
      errorAlarms[label] = new cloudwatch.Alarm(this, `${label}ErrorsAlarm`, {
        alarmDescription: `sqstash: the ${label} function crashed or timed out`,
        metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.functionErrorAlarms = errorAlarms;
    const alarms = [
      this.deadLetterQueueDepthAlarm,
      this.oldestMessageAgeAlarm,
      ...Object.values(errorAlarms),
    ];
    if (props.alarmTopic) {
      const action = new SnsAction(props.alarmTopic);
      for (const alarm of alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    // Setup the dashboard.
    const perFunction = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
      Object.entries(props.functions).map(([label, fn]) =>
        metric(fn).with({ label, statistic: cloudwatch.Stats.SUM, period: PERIOD }),
      );
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Messages',
            left: [...MESSAGE_METRICS, DEAD_LETTER_FAILURES_METRIC].map(messageMetric),
            width: 24,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queue depth',
            left: [
              props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                label: 'Waiting',
                statistic: cloudwatch.Stats.MAXIMUM,
                period: PERIOD,
              }),
              props.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({
                label: 'Being processed',
                statistic: cloudwatch.Stats.MAXIMUM,
                period: PERIOD,
              }),
            ],
            leftAnnotations: [this.deadLetterQueueDepthAlarm.toAnnotation()],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Age of oldest message (delivery queue, seconds)',
            left: [
              props.deliveryQueue.metricApproximateAgeOfOldestMessage({
                statistic: cloudwatch.Stats.MAXIMUM,
                period: PERIOD,
              }),
            ],
            leftAnnotations: [this.oldestMessageAgeAlarm.toAnnotation()],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Lambda errors',
            left: perFunction((fn) => fn.metricErrors()),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Lambda throttles',
            left: perFunction((fn) => fn.metricThrottles()),
            width: 12,
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 })],
      ],
    });
  }
}
