import { Client, Receiver } from '@upstash/qstash';
import { startEmbedded } from '../../lambdas/embedded/start-embedded';
import type { TestServer } from '../helpers/embedded-server';
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_TOKEN,
  memoryLogger,
  startTestServer,
  stopTestServer,
} from '../helpers/embedded-server';
import { TestReceiver } from '../helpers/receiver';

async function keys(server: TestServer, method = 'GET', path = '/v2/keys') {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${DEV_TOKEN}` },
  });
  return {
    status: response.status,
    body: (await response.json()) as { current: string; next: string },
  };
}

describe('signing keys', () => {
  let server: TestServer | undefined;
  let receiver: TestReceiver;

  beforeEach(async () => {
    receiver = await TestReceiver.start();
  });
  afterEach(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it('rotates: current becomes next, next is new, and deliveries verify with the rotated pair', async () => {
    server = await startTestServer();

    const rotated = await keys(server, 'POST', '/v2/keys/rotate');
    const afterRotation = await keys(server);
    const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const url = `${receiver.url}/after-rotation`;
    await client.publishJSON({ url, body: { rotated: true } });
    const [request] = await receiver.waitForRequests(1);

    expect(rotated.status).toBe(200);
    expect(rotated.body.current).toBe(DEV_NEXT_SIGNING_KEY);
    expect(rotated.body.next).toMatch(/^sig_[1-9A-HJ-NP-Za-km-z]{28}$/);
    expect(rotated.body.next).not.toBe(DEV_CURRENT_SIGNING_KEY);
    expect(afterRotation.body).toEqual(rotated.body);
    // An app that still holds the old pair verifies through its `next` key.
    const oldPairReceiver = new Receiver({
      currentSigningKey: DEV_CURRENT_SIGNING_KEY,
      nextSigningKey: DEV_NEXT_SIGNING_KEY,
    });
    const signature = String(request!.headers['upstash-signature']);
    await expect(
      oldPairReceiver.verify({ signature, body: request!.body.toString(), url }),
    ).resolves.toBe(true);
    // The retired key alone no longer verifies.
    const retiredOnly = new Receiver({
      currentSigningKey: DEV_CURRENT_SIGNING_KEY,
      nextSigningKey: DEV_CURRENT_SIGNING_KEY,
    });
    await expect(
      retiredOnly.verify({ signature, body: request!.body.toString(), url }),
    ).rejects.toThrow();
  });

  it('keeps a rotation across a restart on the same data directory', async () => {
    server = await startTestServer();
    const rotated = (await keys(server, 'POST', '/v2/keys/rotate')).body;
    const { config } = server;
    await server.stop();

    const restarted = await startEmbedded(config, memoryLogger());
    try {
      const response = await fetch(`${restarted.url}/v2/keys`, {
        headers: { authorization: `Bearer ${DEV_TOKEN}` },
      });
      expect(await response.json()).toEqual(rotated);
    } finally {
      await restarted.stop();
    }
  });
});
