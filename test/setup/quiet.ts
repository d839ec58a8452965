/**
 * Runs before every test file (jest `setupFiles`), so that `npm test` prints test results and
 * real failures, not library chatter:
 * - Powertools reads its settings when a handler module is imported, which happens before a
 *   test's own hooks set the environment: set the stack's values here, with logs and EMF
 *   metrics off (tests assert on what handlers do, not on what they print).
 * - The AWS SDK warns on every process that Node 20 will be unsupported in 2027; Lambda runs
 *   nodejs24.x, so the warning says nothing about the deployed code.
 * - The QStash SDK logs every non-2xx answer with console.error before throwing it; the tests
 *   that provoke those answers assert on the thrown error.
 * - The Workflow SDK logs every error of a route function (and its warnings) to the console;
 *   the tests that make steps fail assert on what the run did about it.
 */
const QUIET_ENV = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_SERVICE_NAME: 'sqstash',
  POWERTOOLS_METRICS_NAMESPACE: 'sqstash',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
};
for (const [name, value] of Object.entries(QUIET_ENV)) process.env[name] ??= value;

const SDK_PREFIXES = ['[Upstash QStash]', '[Upstash Workflow]', 'Workflow Warning:'];
const fromSdk = ([first]: unknown[]) =>
  typeof first === 'string' && SDK_PREFIXES.some((prefix) => first.trim().startsWith(prefix));
const consoleError = console.error.bind(console);
console.error = (...args: unknown[]) => {
  if (!fromSdk(args)) consoleError(...args);
};
const consoleWarn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (!fromSdk(args)) consoleWarn(...args);
};
