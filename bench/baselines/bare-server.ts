/**
 * The publish ceiling: a bare node:http server that reads the same publish request and answers
 * what sqstash answers, `{messageId, url}`, without doing anything else (no auth, no parsing, no
 * storage). Run as its own process; prints `running at <url>` like the embedded server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const PUBLISH_PREFIX = '/v2/publish/';
// As the embedded server (lambdas/embedded/node-server.ts).
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

let sequence = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    sequence += 1;
    const url = (req.url ?? '').slice(PUBLISH_PREFIX.length);
    const body = JSON.stringify({ messageId: `msg_${sequence}`, url });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`bare server running at http://127.0.0.1:${port}`);
});
// Exit through process.exit, so that --cpu-prof and the like write their output.
process.once('SIGTERM', () => process.exit(0));
