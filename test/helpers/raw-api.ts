import { DEV_TOKEN } from './embedded-server';

export type RawAnswer = {
  status: number;
  contentType: string | null;
  /** Parsed JSON, or the text when the body is not JSON. */
  json: unknown;
};

/**
 * Publishes with plain fetch, for what the SDK cannot send or does not expose (the HTTP status,
 * invalid headers, query-string configuration, binary bodies). `destination` goes raw into the
 * path, as the SDKs put it (its own query string included); `query` is appended to the request's
 * query string. The bearer token
 * is the dev token unless `token` is given (`null` sends no Authorization header).
 */
export async function publishRaw(
  baseUrl: string,
  destination: string,
  options: {
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    query?: string;
    token?: string | null;
  } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? DEV_TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const separator = destination.includes('?') ? '&' : '?';
  const query = options.query ? `${separator}${options.query}` : '';
  const response = await fetch(`${baseUrl}/v2/publish/${destination}${query}`, {
    method: 'POST',
    headers,
    body: options.body,
  });
  return readAnswer(response);
}

export async function readAnswer(response: Response): Promise<RawAnswer> {
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // left as text; a test expecting JSON will fail on it
  }
  return { status: response.status, contentType: response.headers.get('content-type'), json };
}
