import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
// The core decides what happens; where state lives and how bytes move belong to adapters, so
// both runtimes share one behaviour (ARCHITECTURE.md). Ports are the core's own interfaces.
const PURE_DIRS = ['lambdas/core', 'lambdas/ports'];
const FORBIDDEN: Array<[string, RegExp]> = [
  ['node:http', /from ['"](node:)?https?['"]/],
  ['undici', /from ['"]undici['"]/],
  ['the AWS SDK', /from ['"]@aws-sdk\//],
  ['aws-cdk-lib', /from ['"]aws-cdk-lib/],
  ['better-sqlite3', /from ['"]better-sqlite3['"]/],
  ['process.env', /\bprocess\.env\b/],
  ['a runtime module', /from ['"]\.\.\/(adapters|http|handlers|embedded)\//],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('core boundaries', () => {
  const files = PURE_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir)));

  it('finds the core sources to check', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(FORBIDDEN)('keeps %s out of lambdas/core and lambdas/ports', (_name, pattern) => {
    const offenders = files
      .filter((file) => pattern.test(readFileSync(file, 'utf8')))
      .map((file) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });
});
