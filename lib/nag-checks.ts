import type { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, rules } from 'cdk-nag';

/** The finding id the Function URL check reports, for acknowledging it. */
export const FUNCTION_URL_AUTH_RULE = 'Sqstash-LambdaFunctionUrlAuth';

/**
 * Checks cdk-nag's AwsSolutions pack does not make but this stack needs: a Lambda Function URL
 * without IAM auth (the `functionUrl` front door) is a finding, so that it must be acknowledged
 * with the reason it is acceptable, as every other exposure of the stack is.
 */
export class SqstashChecks extends NagPack {
  readonly name = 'Sqstash';

  constructor(...args: ConstructorParameters<typeof NagPack>) {
    super(...args);
    this.packName = 'Sqstash';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      info: 'The Lambda Function URL does not use IAM auth.',
      explanation:
        'A Function URL with AuthType NONE is reachable by anyone on the internet; the function must authenticate every request itself.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaFunctionUrlAuth,
      node,
    });
  }
}
