/**
 * The end-to-end ceiling for a Node relay: takes the same publish request and relays it straight
 * to the destination in its path, with its `Upstash-Forward-*` headers, over a keep-alive client,
 * with no storage, no signing and no retries; it answers `{messageId, url}` once the destination
 * has answered. Run as its own process; prints `running at <url>`.
 *
 * argv[2] picks the HTTP client, so the bench can also compare the candidates for sqstash's
 * delivery client on the same relay:
 * - `node-http`: node:http with a keep-alive Agent (the baseline the targets refer to);
 * - `undici-request`: undici's request() over an Agent;
 * - `sqstash-client`: sqstash's own delivery client (UndiciDeliveryClient), as the server uses it;
 * - `fetch`: Node's built-in fetch.
 */
import { createServer, Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import { UndiciDeliveryClient } from '../../lambdas/adapters/http/undici-delivery-client';
import type { RelayClient } from '../load/protocol';
import { forwardHeaders } from './relay-headers';

const PUBLISH_PREFIX = '/v2/publish/';
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
// As many sockets per destination as sqstash's delivery client keeps (64).
const SOCKETS_PER_ORIGIN = 64;
const TIMEOUT_MS = 30_000;

type Relay = (url: string, headers: Record<string, string>, body: Buffer) => Promise<number>;

function nodeHttpRelay(): Relay {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: SOCKETS_PER_ORIGIN });
  return (url, headers, body) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'POST',
          headers: { ...headers, 'content-length': body.byteLength },
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

function undiciRelay(): Relay {
  const dispatcher = new UndiciAgent({ connections: SOCKETS_PER_ORIGIN });
  return async (url, headers, body) => {
    const response = await undiciRequest(url, { dispatcher, method: 'POST', headers, body });
    await response.body.dump();
    return response.statusCode;
  };
}

function sqstashRelay(): Relay {
  const client = new UndiciDeliveryClient({
    maxResponseBodyBytes: 1024 * 1024,
    addressPolicy: { allowLoopback: true, allowPrivate: true },
  });
  return async (url, headers, body) =>
    (await client.send({ url, method: 'POST', headers, body, timeoutMs: TIMEOUT_MS })).status;
}

function fetchRelay(): Relay {
  return async (url, headers, body) => {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual' });
    await response.arrayBuffer();
    return response.status;
  };
}

const kind = (process.argv[2] ?? 'node-http') as RelayClient;
const relay: Relay = {
  'node-http': nodeHttpRelay,
  'undici-request': undiciRelay,
  'sqstash-client': sqstashRelay,
  fetch: fetchRelay,
}[kind]();

let sequence = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    sequence += 1;
    const url = (req.url ?? '').slice(PUBLISH_PREFIX.length);
    const answer = (status: number, body: string) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    relay(url, forwardHeaders(req.headers), Buffer.concat(chunks)).then(
      () => answer(200, JSON.stringify({ messageId: `msg_${sequence}`, url })),
      (error: unknown) => answer(502, JSON.stringify({ error: String(error) })),
    );
  });
});
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`relay (${kind}) running at http://127.0.0.1:${port}`);
});
// Exit through process.exit, so that --cpu-prof and the like write their output.
process.once('SIGTERM', () => process.exit(0));
