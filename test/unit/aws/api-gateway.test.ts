import { toApiGatewayResult, toApiRequest } from '../../../lambdas/aws/api-gateway';
import { apiGatewayEvent } from '../../helpers/aws-events';

describe('toApiRequest', () => {
  it('keeps the raw path with the destination URL and the raw query string', () => {
    const event = apiGatewayEvent({
      method: 'POST',
      rawPath: '/v2/publish/https://example.com/hook',
      rawQueryString: 'tenant=a&upstash-retries=2',
    });

    const request = toApiRequest(event);

    expect(request).toMatchObject({
      method: 'POST',
      path: '/v2/publish/https://example.com/hook',
      rawQuery: 'tenant=a&upstash-retries=2',
      sourceIp: '203.0.113.9',
    });
  });

  it('decodes a base64 body byte for byte', () => {
    const binary = Uint8Array.from([0, 255, 128, 10, 13, 0xc3]);

    const request = toApiRequest(
      apiGatewayEvent({ method: 'POST', rawPath: '/v2/publish/x', body: binary, base64: true }),
    );

    expect(Buffer.from(request.body)).toEqual(Buffer.from(binary));
  });

  it('reads a text body as UTF-8 and a missing one as empty', () => {
    const text = toApiRequest(
      apiGatewayEvent({ method: 'POST', rawPath: '/v2/publish/x', body: '{"é":1}' }),
    );
    const none = toApiRequest(apiGatewayEvent({ method: 'GET', rawPath: '/v2/keys' }));

    expect(Buffer.from(text.body).toString('utf8')).toBe('{"é":1}');
    expect(none.body.byteLength).toBe(0);
  });

  it('lowercases header names', () => {
    const request = toApiRequest(
      apiGatewayEvent({
        method: 'GET',
        rawPath: '/v2/keys',
        headers: { Authorization: 'Bearer t', 'Upstash-Delay': '5s' },
      }),
    );

    expect(request.headers).toMatchObject({ authorization: 'Bearer t', 'upstash-delay': '5s' });
  });
});

describe('toApiGatewayResult', () => {
  it('returns the status, headers and JSON body unencoded', () => {
    const result = toApiGatewayResult({
      status: 202,
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });

    expect(result).toEqual({
      statusCode: 202,
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
      isBase64Encoded: false,
    });
  });
});
