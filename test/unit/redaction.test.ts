import { createHash } from 'node:crypto';
import { redactBody, redactedValue, redactHeaders } from '../../lambdas/core/redaction';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe('core/redaction', () => {
  it('shows a value as REDACTED: and the hex SHA-256 of its bytes, as sha256sum prints it', () => {
    expect(redactedValue('Bearer secret')).toBe(`REDACTED:${sha256('Bearer secret')}`);
    expect(redactedValue('Bearer secret')).toMatch(/^REDACTED:[0-9a-f]{64}$/);
  });

  it('hashes the named headers, each value on its own, case-insensitively', () => {
    const header = {
      Authorization: ['Bearer a'],
      'X-Tags': ['a', 'b'],
      'Content-Type': ['text/plain'],
    };

    expect(redactHeaders(header, { headers: ['Authorization', 'X-Tags'] })).toEqual({
      Authorization: [redactedValue('Bearer a')],
      'X-Tags': [redactedValue('a'), redactedValue('b')],
      'Content-Type': ['text/plain'],
    });
    expect(redactHeaders(header, { allHeaders: true })['Content-Type']).toEqual([
      redactedValue('text/plain'),
    ]);
    expect(redactHeaders(header, { body: true })).toBe(header);
    expect(redactHeaders(header, undefined)).toBe(header);
  });

  it('hashes the body bytes, and keeps an empty body empty', () => {
    const body = new Uint8Array([0xff, 0x00, 0x41]);
    expect(new TextDecoder().decode(redactBody(body, { body: true }))).toBe(
      `REDACTED:${createHash('sha256').update(body).digest('hex')}`,
    );
    expect(redactBody(new Uint8Array(), { body: true }).byteLength).toBe(0);
    expect(redactBody(body, { allHeaders: true })).toBe(body);
  });
});
