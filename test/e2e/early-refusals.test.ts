import { connect } from 'node:net';
import {
  MAX_DISCARDED_BYTES,
  MAX_HEADER_BYTES,
  MAX_HEADER_COUNT,
} from '../../lambdas/embedded/node-server';
import { DEV_TOKEN, useSdkSuite } from '../helpers/embedded-server';

const MIB = 1024 * 1024;
const BODY = Buffer.alloc(20 * MIB, 'x');
const PUBLISH = 'POST /v2/publish/http://127.0.0.1:9/hook HTTP/1.1';
const AUTH = `authorization: Bearer ${DEV_TOKEN}`;

type Answer = {
  /** Everything the server sent, as text. */
  readonly received: string;
  readonly status?: number;
  readonly json?: unknown;
  /** Set when sending failed: the server closed the connection while the body was on its way. */
  readonly sendError?: string;
  readonly bytesSent: number;
};

/**
 * A client as simple as most: it sends the whole request, and only then reads the answer
 * (Python's requests, http.client, many shell tools). Such a client sees an early refusal only
 * if the server goes on reading what it sends.
 */
async function sendWhole(
  url: string,
  head: string[],
  body: { bytes: Buffer; chunked?: boolean } | { repeat: Buffer; times: number } | undefined,
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  let sendError: string | undefined;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    sendError = error.code ?? error.message;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const write = (data: string | Buffer) =>
    new Promise<boolean>((resolve) => {
      if (socket.destroyed) resolve(false);
      else socket.write(data, (error) => resolve(!error));
    });
  await write(`${head.join('\r\n')}\r\n\r\n`);
  if (body && 'bytes' in body && body.chunked) {
    for (let offset = 0; offset < body.bytes.length; offset += MIB) {
      const chunk = body.bytes.subarray(offset, offset + MIB);
      if (!(await write(`${chunk.length.toString(16)}\r\n`))) break;
      await write(chunk);
      await write('\r\n');
    }
    await write('0\r\n\r\n');
  } else if (body && 'bytes' in body) {
    await write(body.bytes);
  } else if (body) {
    for (let i = 0; i < body.times && (await write(body.repeat)); i++);
  }
  socket.end();
  await closed;
  const [, json] = received.split('\r\n\r\n');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json ?? '');
  } catch {
    // no JSON body; the assertions say so
  }
  return {
    received,
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1]) || undefined,
    json: parsed,
    sendError,
    bytesSent: socket.bytesWritten,
  };
}

function expectRefusal(answer: Answer, status: number, fragment: string): void {
  expect({ status: answer.status, sendError: answer.sendError }).toEqual({
    status,
    sendError: undefined,
  });
  expect(answer.received).toMatch(/\r\ncontent-type: application\/json\r\n/);
  expect(answer.received).toMatch(/\r\nconnection: close\r\n/);
  expect(answer.json).toEqual({ error: expect.stringContaining(fragment) });
}

describe('early refusals reach a client that sends its whole body before reading', () => {
  const suite = useSdkSuite({ SQSTASH_MAX_REQUEST_BYTES: String(MIB) });

  it('answers 20 publishes of a 20 MiB body, each a JSON 413', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(
        await sendWhole(
          suite.server.url,
          [PUBLISH, 'host: x', AUTH, `content-length: ${BODY.length}`],
          { bytes: BODY },
        ),
      );
    }

    for (const answer of answers) expectRefusal(answer, 413, `${MIB} bytes allowed`);
    expect(answers.every((answer) => answer.bytesSent > BODY.length)).toBe(true);
  });

  it('answers a chunked 20 MiB body, whose size shows only as it arrives, with a JSON 413', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await sendWhole(
        suite.server.url,
        [PUBLISH, 'host: x', AUTH, 'transfer-encoding: chunked'],
        { bytes: BODY, chunked: true },
      );

      expectRefusal(answer, 413, `${MIB} bytes allowed`);
    }
  });

  it(`answers more than ${MAX_HEADER_COUNT} header fields, then a 20 MiB body, with a JSON 431`, async () => {
    const many = Array.from({ length: MAX_HEADER_COUNT + 1 }, (_, i) => `x-h${i}: ${i}`);
    for (let i = 0; i < 3; i++) {
      const answer = await sendWhole(
        suite.server.url,
        [PUBLISH, 'host: x', AUTH, ...many, `content-length: ${BODY.length}`],
        { bytes: BODY },
      );

      expectRefusal(answer, 431, `more than ${MAX_HEADER_COUNT} header fields`);
    }
  });

  it(`answers headers over ${MAX_HEADER_BYTES} bytes, then a 20 MiB body, with a JSON 431`, async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await sendWhole(
        suite.server.url,
        [
          PUBLISH,
          'host: x',
          AUTH,
          `x-big: ${'a'.repeat(MAX_HEADER_BYTES)}`,
          `content-length: ${BODY.length}`,
        ],
        { bytes: BODY },
      );

      expectRefusal(answer, 431, `larger than the ${MAX_HEADER_BYTES} bytes allowed`);
    }
  });

  it('refuses a body that is too large before it is sent when the client waits for 100 Continue', async () => {
    const answer = await sendWhole(
      suite.server.url,
      [PUBLISH, 'host: x', AUTH, 'expect: 100-continue', `content-length: ${BODY.length}`],
      undefined,
    );

    expectRefusal(answer, 413, `${MIB} bytes allowed`);
    expect(answer.received).not.toContain('100 Continue');
  });

  it('cuts off a client that keeps sending far past the refusal, and serves the next one', async () => {
    const chunk = Buffer.alloc(MIB, 'x');
    const times = (2 * MAX_DISCARDED_BYTES) / MIB;

    const answer = await sendWhole(
      suite.server.url,
      [PUBLISH, 'host: x', AUTH, `content-length: ${times * MIB}`],
      { repeat: chunk, times },
    );
    const next = await suite.client.publishJSON({
      url: 'http://127.0.0.1:9/hook',
      body: {},
      delay: '1d',
    });

    expect(answer.sendError).toEqual(expect.stringMatching(/^(EPIPE|ECONNRESET)$/));
    expect(answer.bytesSent).toBeLessThan(times * MIB);
    expect(next.messageId).toEqual(expect.any(String));
  });
});
