// Builds the browser console from console/ into dist/console/ (git-ignored): one JS bundle
// (Preact included), one stylesheet and the page. `npm start` and `npm test` run it first.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'console');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { console: 'console/src/main.tsx' },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
await copyFile(join(root, 'console', 'index.html'), join(outdir, 'index.html'));
const sizes = Object.entries(result.metafile.outputs)
  .map(([file, { bytes }]) => `${file.split('/').pop()} ${(bytes / 1024).toFixed(1)} kB`)
  .join(', ');
console.log(`console built into dist/console: ${sizes}`);
