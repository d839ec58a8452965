import { isQStashQueryParameter, parseDestination } from '../../lambdas/core/destination';
import { expectBadRequest } from '../helpers/bad-request';

describe('parseDestination', () => {
  describe('URL destinations', () => {
    it('returns the URL exactly as given when there is no query', () => {
      expect(parseDestination('https://example.com', '')).toEqual({
        kind: 'url',
        url: 'https://example.com',
      });
      expect(parseDestination('http://example.com/api/v1', '')).toEqual({
        kind: 'url',
        url: 'http://example.com/api/v1',
      });
    });

    it('keeps a trailing slash when the path has one and adds none when it does not', () => {
      expect(parseDestination('https://example.com/123/', '')).toEqual({
        kind: 'url',
        url: 'https://example.com/123/',
      });
      expect(parseDestination('https://example.com/123', '')).toEqual({
        kind: 'url',
        url: 'https://example.com/123',
      });
    });

    it('keeps the port and the raw path encoding', () => {
      expect(parseDestination('http://localhost:3000/a%20b/c', '')).toEqual({
        kind: 'url',
        url: 'http://localhost:3000/a%20b/c',
      });
    });

    it('rebuilds the query from the non-QStash parameters in their order and encoding', () => {
      const rawQuery = 'b=2&upstash-retries=3&a=%20x+y&qstash_token=secret&c=caf%C3%A9&flag';

      const destination = parseDestination('https://example.com/123/', rawQuery);

      expect(destination).toEqual({
        kind: 'url',
        url: 'https://example.com/123/?b=2&a=%20x+y&c=caf%C3%A9&flag',
      });
    });

    it('drops QStash parameters whatever their case', () => {
      const rawQuery =
        'keep=1&QSTASH_TOKEN=t&Upstash-Delay=5s&UPSTASH-RETRIES=1&upstash-method=GET';

      expect(parseDestination('https://example.com/', rawQuery)).toEqual({
        kind: 'url',
        url: 'https://example.com/?keep=1',
      });
    });

    it('drops a QStash parameter whose name is percent-encoded', () => {
      expect(parseDestination('https://example.com/', 'upstash%2Dretries=2&x=1')).toEqual({
        kind: 'url',
        url: 'https://example.com/?x=1',
      });
    });

    it('returns the URL without "?" when only QStash parameters were given', () => {
      expect(
        parseDestination('https://example.com/api', 'qstash_token=t&upstash-delay=1s'),
      ).toEqual({ kind: 'url', url: 'https://example.com/api' });
    });

    it('ignores empty query parts', () => {
      expect(parseDestination('https://example.com/api', '&a=1&&b=2&')).toEqual({
        kind: 'url',
        url: 'https://example.com/api?a=1&b=2',
      });
    });

    it.each([
      ['https:/example.com/api', 'https://example.com/api'],
      ['http:/localhost:8080/x', 'http://localhost:8080/x'],
    ])('restores %j collapsed by a proxy to %j', (rawPath, expected) => {
      expect(parseDestination(rawPath, '')).toEqual({ kind: 'url', url: expected });
    });

    it('decodes a percent-encoded destination', () => {
      const encoded = encodeURIComponent('https://example.com/api?x=1');

      expect(parseDestination(encoded, '')).toEqual({
        kind: 'url',
        url: 'https://example.com/api?x=1',
      });
    });

    it('extends the query of a percent-encoded destination with the request query', () => {
      const encoded = encodeURIComponent('https://example.com/api?x=1');

      expect(parseDestination(encoded, 'y=2&upstash-retries=1')).toEqual({
        kind: 'url',
        url: 'https://example.com/api?x=1&y=2',
      });
    });
  });

  describe('URL group destinations', () => {
    it.each(['my-group.v1_2', 'orders', 'A.B-C_9'])(
      'returns a group when the name is %j',
      (name) => {
        expect(parseDestination(name, '')).toEqual({ kind: 'group', name });
      },
    );
  });

  describe('refusals', () => {
    it.each([
      ['ftp://x', 'ftp://x'],
      ['http://', 'http://'],
      ['https://', 'https://'],
      ['http://user:pw@host/', 'credentials'],
      ['http://user@host/', 'credentials'],
      ['my group', 'my group'],
      ['my/group', 'my/group'],
      ['', 'URL group name'],
      ['https%3A%2F%2Fbad%ZZ', 'malformed percent-encoding'],
    ])('throws a BadRequestError when the destination is %j', (rawPath, fragment) => {
      expectBadRequest(() => parseDestination(rawPath, ''), 'destination', fragment);
    });

    it('names the input it was told to in the error', () => {
      expectBadRequest(
        () => parseDestination('ftp://x', '', 'Upstash-Callback'),
        'Upstash-Callback',
      );
    });
  });
});

describe('isQStashQueryParameter', () => {
  it.each([
    ['qstash_token', true],
    ['QStash_Token', true],
    ['upstash-retries', true],
    ['Upstash-Forward-X', true],
    ['token', false],
    ['upstash', false],
    ['x-upstash-retries', false],
  ])('returns %s -> %s', (name, expected) => {
    expect(isQStashQueryParameter(name)).toBe(expected);
  });
});
