/**
 * What the Lambda handlers talk to in the cost run, in a process of its own so that its CPU
 * time is not counted as the handlers': dynalite with the stack's table, and the destination
 * the messages are delivered to. The destination answers 200 after a delay the cost run sets
 * (`POST /control/delay/<ms>`), or, told `POST /control/fail-first/1`, 503 to the first request
 * for each path (so every message is retried once); it counts the requests and the bytes it
 * receives (`GET /control/stats`), which is what leaves AWS as data transfer. Prints one JSON
 * line with the addresses.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDynalite } from '../../test/helpers/dynalite';

const CRLF = 2;
const HTTP_VERSION = ' HTTP/1.1';

async function main(): Promise<void> {
  const dynalite = await startDynalite();
  const table = await dynalite.createTable();
  let delayMs = 0;
  let failFirst = false;
  let requests = 0;
  let bytes = 0;
  let delivered = 0;
  const seen = new Set<string>();
  const destination = createServer((req, res) => {
    const control = /^\/control\/(delay\/(\d+)|fail-first\/([01])|stats|reset)$/.exec(
      req.url ?? '',
    );
    if (control) {
      if (control[2] !== undefined) delayMs = Number(control[2]);
      if (control[3] !== undefined) failFirst = control[3] === '1';
      if (control[1] === 'reset') {
        requests = 0;
        bytes = 0;
        delivered = 0;
        seen.clear();
      }
      req.resume();
      res.end(JSON.stringify({ requests, bytes, delivered }));
      return;
    }
    // The request as it went over the wire: request line, header lines, blank line, body.
    let size = (req.method ?? '').length + 1 + (req.url ?? '').length + HTTP_VERSION.length + CRLF;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      size += req.rawHeaders[i]!.length + 2 + req.rawHeaders[i + 1]!.length + CRLF;
    }
    size += CRLF;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
    });
    req.on('end', () => {
      requests += 1;
      bytes += size;
      const path = req.url ?? '';
      const fail = failFirst && !seen.has(path);
      seen.add(path);
      if (!fail) delivered += 1;
      setTimeout(() => {
        res.statusCode = fail ? 503 : 200;
        res.end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => destination.listen(0, '127.0.0.1', resolve));
  const { port } = destination.address() as AddressInfo;
  process.stdout.write(
    `${JSON.stringify({ dynalite: dynalite.endpoint, table, destination: `http://127.0.0.1:${port}` })}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
