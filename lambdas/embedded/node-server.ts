import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, STATUS_CODES } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { ApiRequest, ApiResponse } from '../http/api-types';

export type NodeServerOptions = {
  readonly handle: (request: ApiRequest) => Promise<ApiResponse>;
  /** Bodies larger than this are refused with 413 before they are read in full. */
  readonly maxBodyBytes: number;
  /**
   * Answers the requests it recognises straight from node:http, before any body is read (the
   * embedded server's own endpoints, a download among them); returns false for the others,
   * which go to `handle`.
   */
  readonly serveDirect?: (req: IncomingMessage, res: ServerResponse) => boolean;
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
/**
 * After a request is refused before its body was read, at most this much more of it is read
 * (and dropped) before the connection is closed. A client that sends its whole body before it
 * reads the answer only sees the answer if the server reads what it sends: closing with unread
 * data makes the OS reset the connection, and the reset destroys the answer on its way. 64 MiB
 * covers a body several times the largest request accepted (10 MiB by default) at the cost of
 * well under a second of loopback or LAN bandwidth; a client sending more than that after being
 * refused is cut off.
 */
export const MAX_DISCARDED_BYTES = 64 * 1024 * 1024;
/** How long a refused request's connection is kept open at most (nginx's `lingering_time`). */
const LINGER_MS = 30_000;
const EMPTY_BODY = new Uint8Array();

/** Serves the API over node:http: reads each request into an ApiRequest, writes the ApiResponse. */
export function createNodeServer(options: NodeServerOptions): Server {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.rawHeaders.length / 2 > MAX_HEADER_COUNT) {
      refuseEarly(
        req,
        errorAnswer(431, `more than ${MAX_HEADER_COUNT} header fields; send fewer headers`),
      );
      return;
    }
    if (options.serveDirect?.(req, res)) return;
    readRequest(req, options.maxBodyBytes).then(
      async (request) => {
        if (request === undefined) {
          refuseEarly(req, tooLarge(options.maxBodyBytes));
          return;
        }
        writeResponse(res, await options.handle(request));
      },
      () => {
        // The client went away mid-body; there is nobody to answer.
        res.destroy();
      },
    );
  };
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
  // A client that waits for `100 Continue` (curl does for large bodies) is refused before it
  // sends a body that is too large, instead of after.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (declaredLength(req) > options.maxBodyBytes) {
      refuseEarly(req, tooLarge(options.maxBodyBytes));
      return;
    }
    res.writeContinue();
    onRequest(req, res);
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
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error }),
  };
}

function tooLarge(maxBodyBytes: number): ApiResponse {
  return errorAnswer(413, `request body is larger than the ${maxBodyBytes} bytes allowed`);
}

const CLIENT_ERRORS: Record<string, readonly [number, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    `the request line and headers are larger than the ${MAX_HEADER_BYTES} bytes allowed`,
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request took too long to arrive'],
};

/** Connections answered early whose client may still be sending; see lingerAfter. */
const lingering = new WeakSet<Duplex>();

/**
 * A request Node could not parse never reaches the API: it is answered here, in the API's JSON
 * error shape rather than Node's bare status line, and the connection is closed once the client
 * has stopped sending. Node reports every further chunk of such a connection as another error;
 * those are what lingering drops.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (lingering.has(socket)) return;
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    400,
    `malformed HTTP request (${error.code ?? error.message})`,
  ];
  // Past a parse error the request has no known end: the answer half-closes the connection, and
  // the client's own close ends it.
  socket.end(rawResponse(errorAnswer(status, message)));
  lingerAfter(socket);
}

/**
 * Answers a request refused before its body was read (too large, too many headers), and closes
 * the connection once the client has sent the rest of it (see MAX_DISCARDED_BYTES): a client
 * that stops writing when the server closes its side would otherwise stop short of reading the
 * answer. The answer goes to the socket directly: node:http would close the connection as soon
 * as a `connection: close` response is written, while the client is still sending.
 */
function refuseEarly(req: IncomingMessage, answer: ApiResponse): void {
  const { socket } = req;
  if (lingering.has(socket)) return;
  socket.write(rawResponse(answer));
  req.once('end', () => socket.end());
  // The body is counted as the request reads it: a 'data' listener on the socket itself would
  // take it from the HTTP parser, which reads the connection directly.
  lingerAfter(socket, req);
}

/**
 * Keeps reading (and dropping) what the client still sends on a connection that was answered,
 * until the client closes its side, MAX_DISCARDED_BYTES have arrived from `source`, or
 * LINGER_MS have passed.
 */
function lingerAfter(socket: Duplex, source: Readable = socket): void {
  lingering.add(socket);
  let discarded = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // The client has sent all it will: nothing is left to wait for.
  socket.once('end', () => socket.end());
  source.on('data', (chunk: Buffer) => {
    discarded += chunk.byteLength;
    if (discarded > MAX_DISCARDED_BYTES) socket.destroy();
  });
  source.resume();
}

/** An ApiResponse as the bytes of an HTTP/1.1 response that closes the connection. */
function rawResponse(answer: ApiResponse): string {
  const headers = Object.entries(answer.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${headers}` +
    `content-length: ${Buffer.byteLength(answer.body)}\r\nconnection: close\r\n\r\n${answer.body}`
  );
}

function declaredLength(req: IncomingMessage): number {
  return Number(req.headers['content-length'] ?? 0);
}

/** The request as the API takes it; `body` is empty for a request answered from its head. */
export function toApiRequest(req: IncomingMessage, body: Uint8Array = EMPTY_BODY): ApiRequest {
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
    body,
    sourceIp: req.socket.remoteAddress,
  };
}

/**
 * Resolves undefined when the body is over the limit, leaving the rest of it unread (and the
 * request intact, for refuseEarly to drain); rejects when the client goes away mid-body.
 */
function readRequest(req: IncomingMessage, maxBodyBytes: number): Promise<ApiRequest | undefined> {
  if (declaredLength(req) > maxBodyBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBodyBytes) {
        stop();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(toApiRequest(req, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    };
    const onClose = () => {
      stop();
      reject(new Error('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

export function writeResponse(res: ServerResponse, response: ApiResponse): void {
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  });
  res.end(response.body);
}
