import { dedupKey } from '../../lambdas/core/dedup';
import type { IncomingHeaders } from '../../lambdas/core/headers';

const DESTINATION = 'https://example.com/api?x=1';
const encoder = new TextEncoder();
const BODY = encoder.encode('{"order":42}');
const HEADERS: IncomingHeaders = {
  'upstash-delay': '10s',
  'upstash-forward-x-tenant': 'acme',
  'upstash-content-based-deduplication': 'true',
};
const CONTENT = { kind: 'content' } as const;

function contentKey(
  headers: IncomingHeaders = HEADERS,
  destination = DESTINATION,
  body: Uint8Array = BODY,
): string {
  return dedupKey(CONTENT, destination, headers, body);
}

describe('dedupKey', () => {
  describe('by id', () => {
    it('returns the id under an "id:" prefix whatever the content', () => {
      expect(dedupKey({ kind: 'id', id: 'order-42' }, DESTINATION, HEADERS, BODY)).toBe(
        'id:order-42',
      );
      expect(
        dedupKey({ kind: 'id', id: 'order-42' }, 'https://other.example', {}, new Uint8Array()),
      ).toBe('id:order-42');
    });
  });

  describe('by content', () => {
    it('returns a stable "content:" key of a base64url SHA-256', () => {
      const key = contentKey();

      expect(key).toMatch(/^content:[A-Za-z0-9_-]{43}$/);
      expect(contentKey()).toBe(key);
    });

    it('returns the same key when the headers come in another order', () => {
      const reversed = Object.fromEntries(Object.entries(HEADERS).reverse());

      expect(contentKey(reversed)).toBe(contentKey(HEADERS));
    });

    it('returns the same key when the body is an equal copy in another buffer', () => {
      const copy = Buffer.from(BODY);

      expect(contentKey(HEADERS, DESTINATION, copy)).toBe(contentKey());
    });

    it('returns another key when the destination differs', () => {
      expect(contentKey(HEADERS, 'https://example.com/api?x=2')).not.toBe(contentKey());
    });

    it('returns another key when the body differs by one byte', () => {
      const other = encoder.encode('{"order":43}');

      expect(contentKey(HEADERS, DESTINATION, other)).not.toBe(contentKey());
    });

    it.each(Object.keys(HEADERS))('returns another key when the value of %s differs', (name) => {
      const changed = { ...HEADERS, [name]: `${HEADERS[name]}-changed` };

      expect(contentKey(changed)).not.toBe(contentKey());
    });

    it('returns another key when an Upstash header is added', () => {
      expect(contentKey({ ...HEADERS, 'upstash-retries': '2' })).not.toBe(contentKey());
    });

    it('returns the same key when only non-Upstash headers differ', () => {
      const withOthers = {
        ...HEADERS,
        authorization: 'Bearer another-token',
        'user-agent': 'curl/8',
        'x-request-id': 'r-1',
      };

      expect(contentKey(withOthers)).toBe(contentKey());
    });

    it('returns the same key when only the SDK telemetry headers differ', () => {
      const fromAnotherClient = {
        ...HEADERS,
        'upstash-telemetry-sdk': 'upstash-qstash-js@v2.12.0',
        'upstash-telemetry-runtime': 'node@v22.1.0',
      };

      expect(contentKey(fromAnotherClient)).toBe(contentKey());
    });

    it('ignores headers whose value is undefined', () => {
      expect(contentKey({ ...HEADERS, 'upstash-retries': undefined })).toBe(contentKey());
    });

    it('returns different keys when bytes shift between destination and body', () => {
      const a = contentKey({}, 'https://example.com/a', encoder.encode('b'));
      const b = contentKey({}, 'https://example.com/', encoder.encode('ab'));

      expect(a).not.toBe(b);
    });

    it('returns different keys when bytes shift between a header name and its value', () => {
      const a = contentKey({ 'upstash-forward-ab': 'c' });
      const b = contentKey({ 'upstash-forward-a': 'bc' });

      expect(a).not.toBe(b);
    });
  });
});
