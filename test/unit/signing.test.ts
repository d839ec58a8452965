import { createHash, createHmac } from 'node:crypto';
import { Receiver, SignatureError } from '@upstash/qstash';
import { signRequest } from '../../lambdas/core/signing';

const CURRENT_KEY = 'sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r';
const NEXT_KEY = 'sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs';
const UNRELATED_KEY = 'sig_3nTuaCjK8sGoyUpv8cW2KqWm2bZx';
const URL = 'https://example.com/api/hook?tenant=a';
const JWT_ID = 'jwt_4dHq7uKm2Vx9pLr3sYt8bN';
/** 2025-01-01T00:00:00.750Z: the fraction checks that iat is whole seconds, rounded down. */
const NOW_MS = Date.UTC(2025, 0, 1, 0, 0, 0, 750);
const NOW_S = Math.floor(NOW_MS / 1000);
const TOKEN_LIFETIME_S = 300;
const EMPTY_BODY_HASH = '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=';
const encoder = new TextEncoder();
const BODY_TEXT = '{"hello":"wörld"}';
const BODY = encoder.encode(BODY_TEXT);

type JwtParts = {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signature: string;
};

function decodeJwt(token: string): JwtParts {
  const parts = token.split('.');
  expect(parts).toHaveLength(3);
  const [header, claims, signature] = parts as [string, string, string];
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { header: json(header), claims: json(claims), signature };
}

function paddedBase64UrlSha256(bytes: Uint8Array): string {
  const hash = createHash('sha256').update(bytes).digest('base64url');
  return hash.padEnd(Math.ceil(hash.length / 4) * 4, '=');
}

describe('signRequest', () => {
  describe('the token', () => {
    it('returns an HS256 JWT with the QStash claims', async () => {
      const token = await signRequest(CURRENT_KEY, URL, BODY, NOW_MS, JWT_ID);

      const { header, claims } = decodeJwt(token);
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(claims).toEqual({
        iss: 'Upstash',
        sub: URL,
        iat: NOW_S,
        exp: NOW_S + TOKEN_LIFETIME_S,
        nbf: 0,
        jti: JWT_ID,
        body: paddedBase64UrlSha256(BODY),
      });
    });

    it('returns the padded base64url SHA-256 of an empty body', async () => {
      const token = await signRequest(CURRENT_KEY, URL, new Uint8Array(), NOW_MS, JWT_ID);

      expect(decodeJwt(token).claims.body).toBe(EMPTY_BODY_HASH);
    });

    it('hashes the raw bytes of a binary body', async () => {
      const binary = Uint8Array.from([0x00, 0xff, 0xfe, 0x80, 0x0a]);

      const token = await signRequest(CURRENT_KEY, URL, binary, NOW_MS, JWT_ID);

      expect(decodeJwt(token).claims.body).toBe(paddedBase64UrlSha256(binary));
    });

    it('returns an HMAC-SHA256 signature keyed with the UTF-8 bytes of the key string', async () => {
      const token = await signRequest(CURRENT_KEY, URL, BODY, NOW_MS, JWT_ID);

      const [header, claims, signature] = token.split('.');
      const expected = createHmac('sha256', Buffer.from(CURRENT_KEY, 'utf8'))
        .update(`${header}.${claims}`)
        .digest('base64url');
      expect(signature).toBe(expected);
    });
  });

  describe('verified by the official Receiver', () => {
    const receiver = new Receiver({ currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY });

    async function freshToken(key = CURRENT_KEY, url = URL, body = BODY): Promise<string> {
      return signRequest(key, url, body, Date.now(), JWT_ID);
    }

    it('returns true for the URL and body that were signed', async () => {
      const signature = await freshToken();

      await expect(receiver.verify({ signature, body: BODY_TEXT, url: URL })).resolves.toBe(true);
    });

    it('returns true for an empty body', async () => {
      const signature = await freshToken(CURRENT_KEY, URL, new Uint8Array());

      await expect(receiver.verify({ signature, body: '', url: URL })).resolves.toBe(true);
    });

    it('rejects another URL', async () => {
      const signature = await freshToken();

      await expect(
        receiver.verify({ signature, body: BODY_TEXT, url: 'https://example.com/api/hook' }),
      ).rejects.toBeInstanceOf(SignatureError);
    });

    it('rejects a tampered body', async () => {
      const signature = await freshToken();

      await expect(
        receiver.verify({ signature, body: '{"hello":"world"}', url: URL }),
      ).rejects.toBeInstanceOf(SignatureError);
    });

    it('rejects a token signed with a key it does not hold', async () => {
      const signature = await freshToken(UNRELATED_KEY);

      await expect(
        receiver.verify({ signature, body: BODY_TEXT, url: URL }),
      ).rejects.toBeInstanceOf(SignatureError);
    });

    it('rejects an expired token', async () => {
      const longAgoMs = Date.now() - (TOKEN_LIFETIME_S + 60) * 1000;
      const signature = await signRequest(CURRENT_KEY, URL, BODY, longAgoMs, JWT_ID);

      await expect(receiver.verify({ signature, body: BODY_TEXT, url: URL })).rejects.toThrow();
    });

    it("returns true when the signing key is the receiver's next key (rotation)", async () => {
      const rotated = new Receiver({
        currentSigningKey: UNRELATED_KEY,
        nextSigningKey: CURRENT_KEY,
      });
      const signature = await freshToken(CURRENT_KEY);

      await expect(rotated.verify({ signature, body: BODY_TEXT, url: URL })).resolves.toBe(true);
    });
  });
});
