import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges one cdk-nag finding on `scope` (and everything under it), with the reason it is
 * acceptable here. cdk-nag 3 reads these through CDK's `Validations` metadata; a finding that
 * names a resource (`AwsSolutions-IAM5[Resource::...]`) must be acknowledged by its exact text.
 */
export function acknowledge(scope: IConstruct, findingId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: findingId, reason });
}
