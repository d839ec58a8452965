import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SqstashChecks } from '../lib/nag-checks';
import { SqstashStack } from '../lib/sqstash-stack';

/**
 * `npx cdk synth|deploy`: the sqstash stack. Settings come from CDK context (`cdk.json`, or
 * `-c sqstash:maxRetries=8`); see `SqstashSettings` in lib/config.ts. No account or region is
 * bound (`env` unset), so synth needs no credentials and the template deploys anywhere.
 * cdk-nag's AwsSolutions pack, and the stack's own checks (lib/nag-checks.ts), run on every
 * synth as CDK validation plugins (cdk-nag 3); a finding that is not acknowledged fails the synth.
 */
const app = new App();
new SqstashStack(app, 'Sqstash', {
  description: 'sqstash: a self-hosted, QStash-compatible HTTP message queue',
});
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { verbose: true }),
  new SqstashChecks(app, { verbose: true }),
);
