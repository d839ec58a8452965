import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP server on 127.0.0.1 that does whatever `onConnection` does with each socket. */
export type RawServer = {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Connections open now. */
  readonly open: () => number;
  stop(): Promise<void>;
};

async function listen(server: Server | HttpServer, scheme: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tracked(server: Server | HttpServer, url: string): RawServer {
  const sockets = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  return {
    url,
    connections: () => accepted,
    open: () => sockets.size,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs `onRequest` once the first chunk of a request (its head) has arrived. */
export async function startRawServer(onRequest: (socket: Socket) => void): Promise<RawServer> {
  const server = createServer((socket) => socket.once('data', () => onRequest(socket)));
  return tracked(server, await listen(server, 'http'));
}

/** Accepts connections and reads requests, and never answers. */
export function startHangingServer(): Promise<RawServer> {
  return startRawServer(() => undefined);
}

/** A port on 127.0.0.1 that nothing listens on: connecting is refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server, 'http');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

/** Whether the `openssl` CLI is there to make a certificate with (Node cannot make one). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** An HTTPS server answering 200 with a fresh self-signed certificate for localhost. */
export async function startSelfSignedHttpsServer(): Promise<RawServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sqstash-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const server = createHttpsServer(
      { key: readFileSync(key), cert: readFileSync(cert) },
      (_req, res) => res.end('ok'),
    );
    return tracked(server, await listen(server, 'https'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
