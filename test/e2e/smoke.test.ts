import { Client, Receiver } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_TOKEN,
  startTestServer,
  stopTestServer,
} from '../helpers/embedded-server';
import { TestReceiver } from '../helpers/receiver';

describe('embedded server with the official SDK', () => {
  let server: TestServer;
  let receiver: TestReceiver;

  beforeAll(async () => {
    server = await startTestServer();
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it('delivers a publishJSON message that the official Receiver verifies', async () => {
    const client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
    const destination = `${receiver.url}/hook?tenant=a`;

    const published = await client.publishJSON({ url: destination, body: { hello: 'world' } });

    const [request] = await receiver.waitForRequests(1);
    expect(published).toEqual({ messageId: expect.stringMatching(/^msg_/), url: destination });
    expect(request!.path).toBe('/hook?tenant=a');
    expect(request!.headers['upstash-message-id']).toBe(published.messageId);
    const verifier = new Receiver({
      currentSigningKey: DEV_CURRENT_SIGNING_KEY,
      nextSigningKey: DEV_NEXT_SIGNING_KEY,
    });
    await expect(
      verifier.verify({
        signature: String(request!.headers['upstash-signature']),
        body: request!.body.toString(),
        url: destination,
      }),
    ).resolves.toBe(true);
  });
});
