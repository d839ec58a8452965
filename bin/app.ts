import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SqstashStack } from '../lib/sqstash-stack';

/**
 * `npx cdk synth|deploy`: the sqstash stack. Settings come from CDK context (`cdk.json`, or
 * `-c sqstash:maxRetries=8`); see `SqstashSettings` in lib/config.ts. No account or region is
 * bound (`env` unset), so synth needs no credentials and the template deploys anywhere.
 * cdk-nag's AwsSolutions pack runs on every synth as a CDK validation plugin (cdk-nag 3); a
 * finding that is not acknowledged fails the synth.
 */
const app = new App();
new SqstashStack(app, 'Sqstash', {
  description: 'sqstash: a self-hosted, QStash-compatible HTTP message queue',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
