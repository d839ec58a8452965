/**
 * The API's request and response, independent of the runtime: the embedded server builds them
 * from node:http, the API Lambda from API Gateway events. Plain objects rather than web
 * Request/Response because constructing those costs more than the rest of a publish on Node 20.
 */
export type ApiRequest = {
  readonly method: string;
  /** Raw, not decoded or normalised: a publish destination is a URL inside the path. */
  readonly path: string;
  /** Raw, without the leading `?`. */
  readonly rawQuery: string;
  /** Lowercase names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Uint8Array;
  readonly sourceIp?: string;
};

export type ApiResponse = {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON text, or empty. */
  readonly body: string;
};

export function jsonResponse(status: number, value: unknown): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}
