import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE } from '../../lambdas/adapters/aws/table';

export type StorageProps = {
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN - messages, logs and dead letters outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
};

/**
 * The single DynamoDB table every AWS adapter shares, built from the schema in
 * `lambdas/adapters/aws/table.ts`: on-demand, TTL on `ttl`, point-in-time recovery, and no
 * secondary index (every listing reads items keyed for it, so no write pays for an index).
 */
export class Storage extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
