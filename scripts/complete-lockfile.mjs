// Adds lockfile entries for platform-specific optional dependencies that the registry
// reachable from this workplace does not serve (it mirrors only linux-x64 builds). Without
// them `npm ci` refuses the lockfile ("Missing: @esbuild/darwin-arm64 from lock file"), here
// and on every user's machine. Each entry carries the os/cpu/libc that its name declares, so
// npm skips it on other platforms exactly as it would with a lockfile written on a full registry.
// Run after every dependency change: `npm install && node scripts/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
const platformPattern =
  /(?:^|[-/])(android|darwin|freebsd|linux|netbsd|openbsd|openharmony|sunos|win32|aix|wasm32)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el|wasi)?(?:-(gnu|gnueabihf|musl|musleabihf|msvc|eabi))?/;

function platformFields(name) {
  const match = platformPattern.exec(name.split('/').pop());
  if (!match) return {};
  const [, os, cpu, abi] = match;
  const fields = os === 'wasm32' ? { cpu: ['wasm32'] } : { os: [os] };
  if (cpu && cpu !== 'wasi') fields.cpu = [cpu];
  if (abi?.startsWith('musl')) fields.libc = ['musl'];
  if (abi?.startsWith('gnu')) fields.libc = ['glibc'];
  return fields;
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    packages[hoisted] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platformFields(name),
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
