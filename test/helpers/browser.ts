import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { chromium } from 'playwright-core';

/** Debian's Chromium; playwright-core brings no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * Headless, as root on a closed network: no sandbox (root), no GPU, and none of Chromium's own
 * calls home (updates, sync, safe browsing), which would only time out here.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * How long a hook may take to start Chromium: a second or two on an idle machine, far more
 * when the other suites load both cores at once.
 */
export const BROWSER_LAUNCH_TIMEOUT_MS = 120_000;

export type TestBrowser = {
  readonly context: BrowserContext;
  /** Every request the pages made, for asserting where they went and what they carried. */
  readonly requests: Request[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
};

/** Real Chromium with a fresh profile, sized like a laptop screen. */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'sqstash-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
  });
  const requests: Request[] = [];
  context.on('request', (request) => requests.push(request));
  return {
    context,
    requests,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
