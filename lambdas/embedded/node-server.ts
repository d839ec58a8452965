import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { ApiRequest, ApiResponse } from '../http/api-types';

export type NodeServerOptions = {
  readonly handle: (request: ApiRequest) => Promise<ApiResponse>;
  /** Bodies larger than this are refused with 413 before they are read in full. */
  readonly maxBodyBytes: number;
};

// Headroom for clients that hold a keep-alive connection open for 5 s (the common default).
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 66_000;

/** Serves the API over node:http: reads each request into an ApiRequest, writes the ApiResponse. */
export function createNodeServer(options: NodeServerOptions): Server {
  const server = createServer((req, res) => {
    readRequest(req, options.maxBodyBytes).then(
      async (request) => {
        if (request === undefined) {
          writeResponse(res, tooLarge(options.maxBodyBytes));
          return;
        }
        writeResponse(res, await options.handle(request));
      },
      () => {
        // The client went away mid-body; there is nobody to answer.
        res.destroy();
      },
    );
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return server;
}

function tooLarge(maxBodyBytes: number): ApiResponse {
  return {
    status: 413,
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({
      error: `request body is larger than the ${maxBodyBytes} bytes allowed`,
    }),
  };
}

/** Resolves undefined when the body is over the limit. */
async function readRequest(
  req: IncomingMessage,
  maxBodyBytes: number,
): Promise<ApiRequest | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk);
  }
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method ?? 'GET',
    path: queryStart === -1 ? url : url.slice(0, queryStart),
    rawQuery: queryStart === -1 ? '' : url.slice(queryStart + 1),
    headers,
    body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size),
    sourceIp: req.socket.remoteAddress,
  };
}

function writeResponse(res: ServerResponse, response: ApiResponse): void {
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  });
  res.end(response.body);
}
