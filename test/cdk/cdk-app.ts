import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import type { SqstashStackProps } from '../../lib/config';
import { SqstashStack } from '../../lib/sqstash-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The `context` block of cdk.json: feature flags and the sqstash defaults `cdk synth` uses. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export type TestStack = {
  readonly app: App;
  readonly stack: SqstashStack;
  readonly template: Template;
};

/**
 * Builds the stack as `cdk synth` would (cdk.json's context, plus `context` on top), without
 * running esbuild: the assertion tests look at the template, and bundles.test.ts at the bundles.
 */
export function buildStack(
  props: SqstashStackProps = {},
  context: Record<string, unknown> = {},
): TestStack {
  const app = new App({
    context: { ...cdkJsonContext(), ...context, [BUNDLING_STACKS]: [] },
  });
  const stack = new SqstashStack(app, 'Sqstash', props);
  let template: Template | undefined;
  return {
    app,
    stack,
    // Synthesized on first use, so a test can still add to the app before.
    get template() {
      template ??= Template.fromStack(stack);
      return template;
    },
  };
}

/** The one resource of `type` whose logical ID starts with `prefix`, as [logicalId, resource]. */
export function onlyResource(
  template: Template,
  type: string,
  prefix: string,
): [string, { Properties: Record<string, unknown> }] {
  const matches = Object.entries(template.findResources(type)).filter(([logicalId]) =>
    logicalId.startsWith(prefix),
  );
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} starting with ${prefix}, found ${matches.length}`);
  }
  return matches[0] as [string, { Properties: Record<string, unknown> }];
}
