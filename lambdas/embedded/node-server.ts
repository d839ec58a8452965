import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiRequest, ApiResponse } from '../http/api-types';

export type NodeServerOptions = {
  readonly handle: (request: ApiRequest) => Promise<ApiResponse>;
  /** Bodies larger than this are refused with 413 before they are read in full. */
  readonly maxBodyBytes: number;
};

// Headroom for clients that hold a keep-alive connection open for 5 s (the common default).
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const HEADERS_TIMEOUT_MS = 66_000;
/** The request line and all headers together (Node's default, written down). */
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * Most header fields in one request. Node would silently drop those past its own limit, and a
 * dropped `Upstash-*` header would be a setting silently ignored, so more are refused instead.
 */
export const MAX_HEADER_COUNT = 200;

/** Serves the API over node:http: reads each request into an ApiRequest, writes the ApiResponse. */
export function createNodeServer(options: NodeServerOptions): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
      req.resume();
      writeResponse(
        res,
        errorAnswer(431, `more than ${MAX_HEADER_COUNT} header fields; send fewer headers`),
      );
      return;
    }
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
  // One more than allowed, so that a request over the limit can be told apart and refused.
  server.maxHeadersCount = MAX_HEADER_COUNT + 1;
  server.on('clientError', answerClientError);
  return server;
}

function errorAnswer(status: number, error: string): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ error }),
  };
}

function tooLarge(maxBodyBytes: number): ApiResponse {
  return errorAnswer(413, `request body is larger than the ${maxBodyBytes} bytes allowed`);
}

const CLIENT_ERRORS: Record<string, readonly [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    `the request line and headers are larger than the ${MAX_HEADER_BYTES} bytes allowed`,
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request took too long to arrive'],
};

/**
 * A request Node could not parse never reaches the API: it is answered here, in the API's JSON
 * error shape rather than Node's bare status line, and the connection is closed.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    400,
    'Bad Request',
    `malformed HTTP request (${error.code ?? error.message})`,
  ];
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
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
