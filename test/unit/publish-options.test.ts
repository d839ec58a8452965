import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import type { IncomingHeaders } from '../../lambdas/core/headers';
import type { PublishOptions } from '../../lambdas/core/publish-options';
import { mergeQueryConfig, parsePublishOptions } from '../../lambdas/core/publish-options';
import { expectBadRequest } from '../helpers/bad-request';

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
const MAX_RETRIES = 5;
const DEFAULT_RETRIES = 2;
const MAX_TIMEOUT_MS = 60 * SECOND_MS;
const MAX_DELAY_MS = 365 * DAY_MS;

/** Distinct from the built-in defaults, so a test can tell the config's value was used. */
const CONFIG: CoreConfig = {
  ...DEFAULT_CORE_CONFIG,
  defaultRetries: DEFAULT_RETRIES,
  maxRetries: MAX_RETRIES,
  maxTimeoutMs: MAX_TIMEOUT_MS,
  maxDelayMs: MAX_DELAY_MS,
};

function parse(headers: IncomingHeaders): PublishOptions {
  return parsePublishOptions(headers, CONFIG);
}

/** Asserts that publishing with `name: value` is refused with both named in the message. */
function expectRefused(
  name: string,
  value: string,
  canonicalName: string,
  extra: IncomingHeaders = {},
) {
  return expectBadRequest(() => parse({ ...extra, [name]: value }), canonicalName, `"${value}"`);
}

describe('parsePublishOptions', () => {
  describe('defaults', () => {
    it('returns POST, the configured retries and timeout, and no delay when no header is given', () => {
      const options = parse({});

      expect(options).toEqual({
        method: 'POST',
        header: {},
        due: { kind: 'delay', delayMs: 0 },
        maxRetries: DEFAULT_RETRIES,
        timeoutMs: MAX_TIMEOUT_MS,
        labels: [],
      });
      expect(options.retryDelayExpression).toBeUndefined();
      expect(options.callback).toBeUndefined();
      expect(options.failureCallback).toBeUndefined();
      expect(options.dedup).toBeUndefined();
      expect(options.cron).toBeUndefined();
    });

    it('returns the built-in default of 3 retries under the default config', () => {
      expect(parsePublishOptions({}, DEFAULT_CORE_CONFIG).maxRetries).toBe(3);
    });
  });

  describe('Upstash-Method', () => {
    it.each([
      ['GET', 'GET'],
      ['get', 'GET'],
      ['Post', 'POST'],
      ['PUT', 'PUT'],
      ['patch', 'PATCH'],
      [' DELETE ', 'DELETE'],
    ])('returns %j as %s', (value, expected) => {
      expect(parse({ 'upstash-method': value }).method).toBe(expected);
    });

    it.each(['HEAD', 'OPTIONS', 'FOO', ''])(
      'throws naming the header when the method is %j',
      (value) => {
        expectRefused('upstash-method', value, 'Upstash-Method');
      },
    );
  });

  describe('Upstash-Retries', () => {
    it.each([
      ['0', 0],
      ['3', 3],
      [String(MAX_RETRIES), MAX_RETRIES],
      [' 1 ', 1],
    ])('returns %j as %d retries', (value, expected) => {
      expect(parse({ 'upstash-retries': value }).maxRetries).toBe(expected);
    });

    it('throws naming the cap when the retries exceed it', () => {
      const tooMany = String(MAX_RETRIES + 1);

      const error = expectRefused('upstash-retries', tooMany, 'Upstash-Retries');

      expect(error.message).toContain(`at most ${MAX_RETRIES}`);
    });

    it.each(['-1', '1.5', 'three', '', '1e1'])(
      'throws naming the header when the value is %j',
      (value) => {
        expectRefused('upstash-retries', value, 'Upstash-Retries');
      },
    );
  });

  describe('Upstash-Retry-Delay', () => {
    it('returns the expression source when it parses', () => {
      const expression = '1000 * (1 + retried)';

      expect(parse({ 'upstash-retry-delay': expression }).retryDelayExpression).toBe(expression);
    });

    it.each(['1000 *', 'retry * 2', 'pow(2)', ''])(
      'throws naming the header when the value is %j',
      (value) => {
        expectRefused('upstash-retry-delay', value, 'Upstash-Retry-Delay');
      },
    );
  });

  describe('Upstash-Timeout', () => {
    it.each([
      ['30s', 30 * SECOND_MS],
      ['1.5s', 1_500],
      ['1m', 60 * SECOND_MS],
      ['45', 45 * SECOND_MS],
    ])('returns %j as %d ms', (value, expected) => {
      expect(parse({ 'upstash-timeout': value }).timeoutMs).toBe(expected);
    });

    it.each(['0s', '0', '61s', '2m', '10x', '-1s'])(
      'throws naming the header when the value is %j',
      (value) => {
        expectRefused('upstash-timeout', value, 'Upstash-Timeout');
      },
    );
  });

  describe('Upstash-Delay', () => {
    it.each([
      ['10s', 10 * SECOND_MS],
      ['1d10h30m', DAY_MS + 10.5 * 3_600_000],
      ['365d', MAX_DELAY_MS],
      ['0s', 0],
    ])('returns %j as a delay of %d ms', (value, expected) => {
      expect(parse({ 'upstash-delay': value }).due).toEqual({ kind: 'delay', delayMs: expected });
    });

    it.each(['366d', '10x', '-5s', '1 d'])(
      'throws naming the header when the value is %j',
      (value) => {
        expectRefused('upstash-delay', value, 'Upstash-Delay');
      },
    );
  });

  describe('Upstash-Not-Before', () => {
    const NOT_BEFORE_S = 1_700_000_000;

    it('returns an absolute due time in ms when the value is Unix seconds', () => {
      expect(parse({ 'upstash-not-before': String(NOT_BEFORE_S) }).due).toEqual({
        kind: 'at',
        timeMs: NOT_BEFORE_S * SECOND_MS,
      });
    });

    it('wins over Upstash-Delay when both are given', () => {
      const options = parse({ 'upstash-not-before': String(NOT_BEFORE_S), 'upstash-delay': '10s' });

      expect(options.due).toEqual({ kind: 'at', timeMs: NOT_BEFORE_S * SECOND_MS });
    });

    it('still refuses a malformed Upstash-Delay beside it', () => {
      expectRefused('upstash-delay', 'soon', 'Upstash-Delay', {
        'upstash-not-before': String(NOT_BEFORE_S),
      });
    });

    it.each(['soon', '-1', '1.5', '2024-01-01', ''])(
      'throws naming the header when the value is %j',
      (value) => {
        expectRefused('upstash-not-before', value, 'Upstash-Not-Before');
      },
    );
  });

  describe('forwarded headers', () => {
    it('returns Upstash-Forward-<Name> as <Name> in canonical form', () => {
      const options = parse({
        'upstash-forward-my-header': 'one',
        'upstash-forward-authorization': 'Bearer abc',
        'upstash-forward-x-api-key': 'k',
      });

      expect(options.header).toEqual({
        'My-Header': ['one'],
        Authorization: ['Bearer abc'],
        'X-Api-Key': ['k'],
      });
    });

    it('forwards a header named __proto__ as a header, leaving the map an ordinary one', () => {
      const options = parse({ 'upstash-forward-__proto__': 'x', 'upstash-forward-a': 'b' });

      expect(Object.entries(options.header)).toEqual([
        ['__proto__', ['x']],
        ['A', ['b']],
      ]);
      expect(Object.getPrototypeOf(options.header)).toBe(Object.prototype);
    });

    it('includes Content-Type unchanged', () => {
      const options = parse({ 'content-type': 'application/json; charset=utf-8' });

      expect(options.header).toEqual({ 'Content-Type': ['application/json; charset=utf-8'] });
    });

    it('does not forward plain request headers without Upstash-Header-Forward', () => {
      const options = parse({ 'x-custom': '1', authorization: 'Bearer qstash-token' });

      expect(options.header).toEqual({});
    });

    it.each(['a\r\nInjected: 1', 'a\nb', 'nul\u0000'])(
      'throws naming the header when a forwarded value holds control characters (%j)',
      (value) => {
        expectBadRequest(
          () => parse({ 'upstash-forward-x-trace': value }),
          'Upstash-Forward-X-Trace',
          'control characters',
        );
      },
    );

    it('throws when the forwarded header name is empty', () => {
      expectBadRequest(() => parse({ 'upstash-forward-': 'v' }), 'Upstash-Forward-');
    });

    it('keeps tabs and non-ASCII text in a forwarded value', () => {
      expect(parse({ 'upstash-forward-x-note': 'a\tcafé' }).header).toEqual({
        'X-Note': ['a\tcafé'],
      });
    });
  });

  describe('Upstash-Header-Forward', () => {
    const INCOMING = {
      'x-github-event': 'push',
      'user-agent': 'GitHub-Hookshot',
      authorization: 'Bearer qstash-token',
      host: 'sqstash.example.com',
      'content-length': '42',
      'content-type': 'application/json',
      'upstash-retries': '1',
    };

    it('forwards every non-Upstash header except credentials and hop-by-hop fields when true', () => {
      const options = parse({ ...INCOMING, 'upstash-header-forward': 'true' });

      expect(options.header).toEqual({
        'Content-Type': ['application/json'],
        'X-Github-Event': ['push'],
        'User-Agent': ['GitHub-Hookshot'],
      });
      expect(options.header.Authorization).toBeUndefined();
      expect(options.header.Host).toBeUndefined();
      expect(options.header['Content-Length']).toBeUndefined();
    });

    it('accepts TRUE in any case', () => {
      expect(
        parse({ ...INCOMING, 'upstash-header-forward': 'TRUE' }).header['X-Github-Event'],
      ).toEqual(['push']);
    });

    it('forwards only Content-Type when the value is not true', () => {
      const options = parse({ ...INCOMING, 'upstash-header-forward': 'false' });

      expect(options.header).toEqual({ 'Content-Type': ['application/json'] });
    });
  });

  describe('callbacks', () => {
    const CALLBACK_URL = 'https://example.com/callback';

    it('returns a callback with POST and no overrides when only the URL is given', () => {
      const options = parse({ 'upstash-callback': CALLBACK_URL });

      expect(options.callback).toEqual({ url: CALLBACK_URL, method: 'POST', header: {} });
      expect(options.callback?.retries).toBeUndefined();
      expect(options.callback?.timeoutMs).toBeUndefined();
      expect(options.callback?.retryDelayExpression).toBeUndefined();
    });

    it('reads the Upstash-Callback-* sub-headers with the message rules', () => {
      const options = parse({
        'upstash-callback': CALLBACK_URL,
        'upstash-callback-method': 'put',
        'upstash-callback-retries': '1',
        'upstash-callback-retry-delay': '500 * retried',
        'upstash-callback-timeout': '20s',
        'upstash-callback-forward-x-secret': 's3cret',
      });

      expect(options.callback).toEqual({
        url: CALLBACK_URL,
        method: 'PUT',
        header: { 'X-Secret': ['s3cret'] },
        retries: 1,
        retryDelayExpression: '500 * retried',
        timeoutMs: 20 * SECOND_MS,
      });
      expect(options.header).toEqual({});
    });

    it.each([
      ['upstash-callback-method', 'HEAD', 'Upstash-Callback-Method'],
      ['upstash-callback-retries', String(MAX_RETRIES + 1), 'Upstash-Callback-Retries'],
      ['upstash-callback-retries', 'x', 'Upstash-Callback-Retries'],
      ['upstash-callback-retry-delay', '1000 *', 'Upstash-Callback-Retry-Delay'],
      ['upstash-callback-timeout', '10x', 'Upstash-Callback-Timeout'],
      ['upstash-callback-timeout', '2m', 'Upstash-Callback-Timeout'],
    ])('throws naming %s when its value is %j', (name, value, canonicalName) => {
      expectRefused(name, value, canonicalName, { 'upstash-callback': CALLBACK_URL });
    });

    it('throws when a callback forward header holds control characters', () => {
      expectBadRequest(
        () => parse({ 'upstash-callback': CALLBACK_URL, 'upstash-callback-forward-x': 'a\nb' }),
        'Upstash-Callback-Forward-X',
      );
    });

    it('throws when Upstash-Callback-Delay is given', () => {
      expectBadRequest(
        () => parse({ 'upstash-callback': CALLBACK_URL, 'upstash-callback-delay': '10s' }),
        'Upstash-Callback-Delay',
        'not accepted',
      );
    });

    it.each(['ftp://example.com', 'not a url', 'http://user:pw@example.com/', 'https://'])(
      'throws naming Upstash-Callback when the URL is %j',
      (url) => {
        expectBadRequest(() => parse({ 'upstash-callback': url }), 'Upstash-Callback', `"${url}"`);
      },
    );

    it('throws naming the stray sub-header when Upstash-Callback is missing', () => {
      expectBadRequest(
        () => parse({ 'upstash-callback-retries': '1' }),
        'Upstash-Callback-Retries',
        'needs Upstash-Callback',
      );
    });

    it('returns a failure callback read with the same rules', () => {
      const options = parse({
        'upstash-failure-callback': 'https://example.com/failed',
        'upstash-failure-callback-method': 'patch',
        'upstash-failure-callback-retries': '0',
        'upstash-failure-callback-timeout': '5s',
        'upstash-failure-callback-forward-x-tenant': 'acme',
      });

      expect(options.failureCallback).toEqual({
        url: 'https://example.com/failed',
        method: 'PATCH',
        header: { 'X-Tenant': ['acme'] },
        retries: 0,
        timeoutMs: 5 * SECOND_MS,
      });
      expect(options.callback).toBeUndefined();
    });

    it.each([
      ['upstash-failure-callback-retries', 'many', 'Upstash-Failure-Callback-Retries'],
      ['upstash-failure-callback-method', 'TRACE', 'Upstash-Failure-Callback-Method'],
      ['upstash-failure-callback-timeout', '0s', 'Upstash-Failure-Callback-Timeout'],
      ['upstash-failure-callback-retry-delay', 'exp(', 'Upstash-Failure-Callback-Retry-Delay'],
    ])('throws naming %s when its value is %j', (name, value, canonicalName) => {
      expectRefused(name, value, canonicalName, {
        'upstash-failure-callback': 'https://example.com/failed',
      });
    });

    it('throws when Upstash-Failure-Callback-Delay is given', () => {
      expectBadRequest(
        () =>
          parse({
            'upstash-failure-callback': 'https://example.com/failed',
            'upstash-failure-callback-delay': '1s',
          }),
        'Upstash-Failure-Callback-Delay',
      );
    });

    it('throws naming the stray sub-header when Upstash-Failure-Callback is missing', () => {
      expectBadRequest(
        () => parse({ 'upstash-failure-callback-forward-x': 'v' }),
        'Upstash-Failure-Callback-Forward-X',
        'needs Upstash-Failure-Callback',
      );
    });

    it('keeps the two callbacks apart when both are given', () => {
      const options = parse({
        'upstash-callback': CALLBACK_URL,
        'upstash-callback-retries': '4',
        'upstash-failure-callback': 'https://example.com/failed',
        'upstash-failure-callback-retries': '1',
      });

      expect(options.callback?.retries).toBe(4);
      expect(options.failureCallback?.retries).toBe(1);
    });
  });

  describe('deduplication', () => {
    const MAX_ID_LENGTH = 256;

    it('returns an id request when Upstash-Deduplication-Id is valid', () => {
      expect(parse({ 'upstash-deduplication-id': 'order-42_v1.x' }).dedup).toEqual({
        kind: 'id',
        id: 'order-42_v1.x',
      });
    });

    it('accepts an id of the maximum length', () => {
      const id = 'a'.repeat(MAX_ID_LENGTH);

      expect(parse({ 'upstash-deduplication-id': id }).dedup).toEqual({ kind: 'id', id });
    });

    it.each(['a:b', 'a b', 'a\tb', ' lead', '', 'a'.repeat(MAX_ID_LENGTH + 1)])(
      'throws naming the header when the id is %j',
      (value) => {
        expectRefused('upstash-deduplication-id', value, 'Upstash-Deduplication-Id');
      },
    );

    it.each(['true', 'True', 'TRUE', ' true '])(
      'returns a content request when the flag is %j',
      (value) => {
        expect(parse({ 'upstash-content-based-deduplication': value }).dedup).toEqual({
          kind: 'content',
        });
      },
    );

    it.each(['false', 'False'])('returns no dedup when the flag is %j', (value) => {
      expect(parse({ 'upstash-content-based-deduplication': value }).dedup).toBeUndefined();
    });

    it.each(['yes', '1', ''])('throws naming the header when the flag is %j', (value) => {
      expectRefused(
        'upstash-content-based-deduplication',
        value,
        'Upstash-Content-Based-Deduplication',
      );
    });

    it('prefers the explicit id when both are given', () => {
      const options = parse({
        'upstash-deduplication-id': 'explicit',
        'upstash-content-based-deduplication': 'true',
      });

      expect(options.dedup).toEqual({ kind: 'id', id: 'explicit' });
    });
  });

  describe('Upstash-Label', () => {
    it.each([
      ['billing', ['billing']],
      ['a,b', ['a', 'b']],
      [' a , b.c ,a', ['a', 'b.c']],
    ])('returns %j as %j', (value, expected) => {
      expect(parse({ 'upstash-label': value }).labels).toEqual(expected);
    });

    it.each(['a,,b', 'has space', 'a/b', '', 'x'.repeat(129)])(
      'throws naming the header when the labels are %j',
      (value) => {
        expectRefused('upstash-label', value, 'Upstash-Label');
      },
    );
  });

  describe('flow control', () => {
    const KEY = 'upstash-flow-control-key';
    const VALUE = 'upstash-flow-control-value';

    it.each([
      ['parallelism=2, rate=10, period=1m', { parallelism: 2, rate: 10, periodSec: 60 }],
      ['parallelism=2,rate=10,period=1m', { parallelism: 2, rate: 10, periodSec: 60 }],
      ['Rate=20,Parallelism=10', { parallelism: 10, rate: 20, periodSec: 1 }],
      ['rate=5', { rate: 5, periodSec: 1 }],
      ['rate=5, period=90', { rate: 5, periodSec: 90 }],
      ['rate=1, period=7d', { rate: 1, periodSec: 604_800 }],
      ['parallelism=3', { parallelism: 3 }],
    ])('reads %j with or without spaces, names in any case', (value, expected) => {
      expect(parse({ [KEY]: 'llm', [VALUE]: value }).flowControl).toEqual({
        key: 'llm',
        ...expected,
      });
    });

    it('has none without the headers', () => {
      expect(parse({}).flowControl).toBeUndefined();
    });

    it.each([
      ['', 'parallelism=<n>'],
      ['period=1m', 'give parallelism=<n>, rate=<n>, or both'],
      ['parallelism=0', 'from 1 to'],
      ['parallelism=1.5', 'whole number'],
      ['rate=-1', 'rate'],
      ['rate=2, rate=3', 'given twice'],
      ['burst=3', 'expected comma-separated'],
      ['rate=1, period=8d', 'from 1s to 7d'],
      ['rate=1, period=1.5s', 'whole seconds'],
      ['rate=1, period=1x', 'period'],
      ['parallelism=2,', 'expected comma-separated'],
    ])('refuses the value %j, naming the header', (value, fragment) => {
      expectBadRequest(
        () => parse({ [KEY]: 'llm', [VALUE]: value }),
        'Upstash-Flow-Control-Value',
        fragment,
      );
    });

    it('refuses a key without a value, and a value without a key', () => {
      expectBadRequest(() => parse({ [KEY]: 'llm' }), 'Upstash-Flow-Control-Key needs');
      expectBadRequest(
        () => parse({ [VALUE]: 'rate=1' }),
        'Upstash-Flow-Control-Value needs Upstash-Flow-Control-Key',
      );
    });

    it.each(['', 'a/b', 'has space', 'a%2Fb', 'x'.repeat(257)])(
      'refuses the key %j, which could not name it in /v2/flowControl/{key}',
      (key) => {
        expectBadRequest(
          () => parse({ [KEY]: key, [VALUE]: 'rate=1' }),
          'Upstash-Flow-Control-Key',
        );
      },
    );

    it("reads a callback's own flow control from Upstash-Callback-Flow-Control-*", () => {
      const options = parse({
        'upstash-callback': 'https://example.com/cb',
        'upstash-callback-flow-control-key': 'cb',
        'upstash-callback-flow-control-value': 'parallelism=1',
        'upstash-failure-callback': 'https://example.com/fail',
        'upstash-failure-callback-flow-control-key': 'fail',
        'upstash-failure-callback-flow-control-value': 'rate=2',
      });
      expect(options.callback?.flowControl).toEqual({ key: 'cb', parallelism: 1 });
      expect(options.failureCallback?.flowControl).toEqual({ key: 'fail', rate: 2, periodSec: 1 });
      expect(options.flowControl).toBeUndefined();
      expectBadRequest(
        () =>
          parse({
            'upstash-callback': 'https://example.com/cb',
            'upstash-callback-flow-control-key': 'cb',
          }),
        'Upstash-Callback-Flow-Control-Key needs Upstash-Callback-Flow-Control-Value',
      );
    });
  });

  describe('Upstash-Redact-Fields', () => {
    it.each([
      ['body', { body: true }],
      ['header', { allHeaders: true }],
      ['headers', { allHeaders: true }],
      ['body,header[Authorization]', { body: true, headers: ['Authorization'] }],
      [
        'body, headers[x-api-key], header[Authorization]',
        { body: true, headers: ['X-Api-Key', 'Authorization'] },
      ],
      ['header[authorization], header', { allHeaders: true }],
      ['BODY', { body: true }],
    ])('reads %j (the OpenAPI, docs and SDK spellings)', (value, expected) => {
      expect(parse({ 'upstash-redact-fields': value }).redaction).toEqual(expected);
    });

    it.each(['', 'bodies', 'header[]', 'header[bad name]', 'body;header'])(
      'refuses %j, naming the header',
      (value) => {
        expectRefused('upstash-redact-fields', value, 'Upstash-Redact-Fields');
      },
    );
  });

  describe('Upstash-Cron', () => {
    it('returns the trimmed cron expression', () => {
      expect(parse({ 'upstash-cron': ' */5 * * * * ' }).cron).toBe('*/5 * * * *');
    });

    it('returns no cron when the value is blank', () => {
      expect(parse({ 'upstash-cron': '  ' }).cron).toBeUndefined();
    });
  });
});

describe('mergeQueryConfig', () => {
  it('returns the headers unchanged when there is no query', () => {
    const headers = { 'upstash-retries': '1' };

    expect(mergeQueryConfig(headers, '')).toBe(headers);
  });

  it('adds upstash-* query parameters, lowercased and decoded, but not qstash_token or others', () => {
    const merged = mergeQueryConfig(
      {},
      'Upstash-Delay=100s&upstash-forward-x-note=a%20b&qstash_token=secret&tenant=7',
    );

    expect(merged).toEqual({ 'upstash-delay': '100s', 'upstash-forward-x-note': 'a b' });
  });

  it('lets a header win over a query parameter of the same name', () => {
    const merged = mergeQueryConfig(
      { 'upstash-retries': '4', 'content-type': 'text/plain' },
      'upstash-retries=1&upstash-method=PUT',
    );

    expect(merged).toEqual({
      'upstash-retries': '4',
      'upstash-method': 'PUT',
      'content-type': 'text/plain',
    });
  });

  it('feeds parsePublishOptions like headers do', () => {
    const merged = mergeQueryConfig(
      { 'upstash-retries': '4' },
      'upstash-retries=1&upstash-delay=10s&upstash-header-forward=true',
    );

    const options = parsePublishOptions({ ...merged, 'x-hook-id': 'h1' }, CONFIG);

    expect(options.maxRetries).toBe(4);
    expect(options.due).toEqual({ kind: 'delay', delayMs: 10 * SECOND_MS });
    expect(options.header).toEqual({ 'X-Hook-Id': ['h1'] });
  });

  it('refuses a bad value given as a query parameter, naming the header', () => {
    const merged = mergeQueryConfig({}, 'upstash-retries=lots');

    expectBadRequest(() => parsePublishOptions(merged, CONFIG), 'Upstash-Retries', '"lots"');
  });
});
