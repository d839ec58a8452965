import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackupFile } from '../adapters/embedded/sqlite-backup';
import type { ApiRequest } from '../http/api-types';
import { jsonResponse } from '../http/api-types';
import { createAuthenticator } from '../http/auth';
import { errorResponse } from '../http/error-response';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import { toApiRequest, writeResponse } from './node-server';

export type OpsEndpointsDeps = {
  readonly token: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Throws when the database does not answer. */
  readonly checkHealth: (nowMs: number) => void;
  readonly metrics: { readonly contentType: string; text(): Promise<string> };
  readonly backup: { copy(): Promise<BackupFile> };
};

type Endpoint = {
  readonly methods: readonly string[];
  /** Whether the bearer token is needed, as on every API route. */
  readonly authenticated: boolean;
  readonly answer: (res: ServerResponse) => Promise<void>;
};

/**
 * The embedded server's operational endpoints, beside the QStash API:
 * - `GET /healthz` (no token, for load balancers and orchestrators): 200 `{"status":"ok"}` when
 *   the database answers, 503 when it does not; nothing else is in it;
 * - `GET /metrics` (bearer token): every metric in the Prometheus text format;
 * - `GET /backup` (bearer token): a consistent copy of the live database, as a download.
 * Answered from node:http directly, since a backup streams a file rather than a JSON body.
 */
export function createOpsEndpoints(
  deps: OpsEndpointsDeps,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const authenticate = createAuthenticator(deps.token);
  let backupRunning = false;
  const endpoints = new Map<string, Endpoint>([
    [
      '/healthz',
      { methods: ['GET', 'HEAD'], authenticated: false, answer: async (res) => health(deps, res) },
    ],
    [
      '/metrics',
      {
        methods: ['GET'],
        authenticated: true,
        answer: async (res) => {
          const body = await deps.metrics.text();
          writeResponse(res, {
            status: 200,
            headers: { 'content-type': deps.metrics.contentType },
            body,
          });
        },
      },
    ],
    [
      '/backup',
      {
        methods: ['GET'],
        authenticated: true,
        answer: async (res) => {
          // One copy at a time: each needs as much free disk as the database takes.
          if (backupRunning) {
            writeResponse(
              res,
              jsonResponse(409, {
                error: 'a backup is already running; try again once it is done',
              }),
            );
            return;
          }
          backupRunning = true;
          try {
            await sendBackup(deps, res);
          } finally {
            backupRunning = false;
          }
        },
      },
    ],
  ]);

  return (req, res) => {
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const endpoint = endpoints.get(queryStart === -1 ? url : url.slice(0, queryStart));
    if (!endpoint) return false;
    // These take no body; whatever was sent is read and dropped.
    req.resume();
    const request = toApiRequest(req);
    serve(endpoint, request, authenticate, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else
        writeResponse(
          res,
          errorResponse(error, deps.logger, { method: request.method, path: request.path }),
        );
    });
    return true;
  };
}

async function serve(
  endpoint: Endpoint,
  request: ApiRequest,
  authenticate: (request: ApiRequest) => void,
  res: ServerResponse,
): Promise<void> {
  if (!endpoint.methods.includes(request.method)) {
    const allowed = endpoint.methods.join(' or ');
    writeResponse(
      res,
      jsonResponse(405, {
        error: `${request.method} is not allowed on ${request.path}; use ${allowed}`,
      }),
    );
    return;
  }
  if (endpoint.authenticated) authenticate(request);
  await endpoint.answer(res);
}

function health(deps: OpsEndpointsDeps, res: ServerResponse): void {
  try {
    deps.checkHealth(deps.clock.now());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.logger.error('health check failed: the database does not answer', { error: reason });
    writeResponse(
      res,
      jsonResponse(503, {
        status: 'unavailable',
        error: `the database does not answer: ${reason}`,
      }),
    );
    return;
  }
  writeResponse(res, jsonResponse(200, { status: 'ok' }));
}

/** Copies the database, streams the copy, then removes it from the data directory. */
async function sendBackup(deps: OpsEndpointsDeps, res: ServerResponse): Promise<void> {
  const startedAt = deps.clock.now();
  const file = await deps.backup.copy();
  deps.logger.info('backup copied', { bytes: file.bytes, ms: deps.clock.now() - startedAt });
  const stamp = new Date(startedAt).toISOString().replace(/[:.]/g, '-');
  res.writeHead(200, {
    'content-type': 'application/vnd.sqlite3',
    'content-length': file.bytes,
    'content-disposition': `attachment; filename="sqstash-${stamp}.db"`,
  });
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file.path);
    // A read error cuts the download short; the client sees fewer bytes than announced.
    stream.once('error', () => res.destroy());
    res.once('close', () => {
      stream.destroy();
      file.discard();
      resolve();
    });
    stream.pipe(res);
  });
}
