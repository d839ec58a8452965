import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiRequest, ApiResponse } from '../http/api-types';

/** Where `npm run build:console` puts the console (scripts/build-console.mjs). */
export const CONSOLE_DIR = join(__dirname, '..', '..', 'dist', 'console');

const FILES: Record<string, readonly [file: string, contentType: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/console.js': ['console.js', 'text/javascript; charset=utf-8'],
  '/console.css': ['console.css', 'text/css; charset=utf-8'],
};

/**
 * Nothing but this origin's own script, style and API: no inline script, no other origin, no
 * framing, no form posts, so user data the console renders cannot run or leak anywhere.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Rebuilt by every `npm start`; small enough to fetch again than to risk a stale bundle.
  'cache-control': 'no-cache',
};

const NOT_BUILT =
  'The console is not built. Run `npm run build:console` (npm start and npm test do it), then reload.';

/**
 * The console's static files, read once at start: the only routes without a token, since they
 * hold no data and no secret (the page asks for the token and calls the API with it). Answers
 * undefined for every other path, which is the API's.
 */
export function consoleAssets(
  dir: string = CONSOLE_DIR,
): (request: ApiRequest) => ApiResponse | undefined {
  const built = existsSync(join(dir, 'index.html'));
  const bodies = new Map<string, ApiResponse>();
  for (const [path, [file, contentType]] of Object.entries(FILES)) {
    bodies.set(
      path,
      built
        ? {
            status: 200,
            headers: { ...SECURITY_HEADERS, 'content-type': contentType },
            body: readFileSync(join(dir, file), 'utf8'),
          }
        : {
            status: 503,
            headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
            body: NOT_BUILT,
          },
    );
  }
  return (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    return bodies.get(request.path);
  };
}
