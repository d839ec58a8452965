/**
 * The console's only way to the server: same-origin fetches to the /v2 API with the token as
 * the bearer header. The token lives in this tab's sessionStorage and nowhere else: never in a
 * URL, a log line or the page.
 */

const TOKEN_KEY = 'sqstash.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx, with the server's `{"error"}` message when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Called when the server refuses the token, so the app can ask for it again. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export type RequestOptions = {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** A JSON body; sets Content-Type. */
  readonly json?: unknown;
  /** Use this token instead of the stored one (signing in checks it before storing it). */
  readonly token?: string;
};

/** The raw answer: status, parsed JSON (or text), for views that show it as it came. */
export type RawAnswer = { readonly status: number; readonly body: unknown };

export async function requestRaw(path: string, options: RequestOptions = {}): Promise<RawAnswer> {
  const token = options.token ?? storedToken() ?? '';
  const headers: Record<string, string> = { ...options.headers, Authorization: `Bearer ${token}` };
  let body = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body,
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  let parsed: unknown = text;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
  }
  if (response.status === 401 && options.token === undefined) onUnauthorized();
  return { status: response.status, body: parsed };
}

/** A call whose 2xx answer is the value wanted; anything else is an ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const answer = await requestRaw(path, options);
  if (answer.status < 200 || answer.status >= 300) {
    const error = (answer.body as { error?: unknown } | null)?.error;
    throw new ApiError(
      answer.status,
      typeof error === 'string' ? error : `the server answered ${answer.status}`,
    );
  }
  return answer.body as T;
}

/** A query string from the values that are set; arrays repeat the parameter. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
