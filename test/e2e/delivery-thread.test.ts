import { Receiver } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, eventually, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import { TestReceiver } from '../helpers/receiver';

// Delivery runs on a thread of its own by default, or on the API's event loop; what crosses
// between the two (wake-ups, rotated keys, log lines, settled attempts for the metrics) must
// reach the other side, and the rest behave the same either way.
describe.each([
  ['on its own thread', 'true'],
  ["on the API's event loop", 'false'],
])('delivery %s', (_, deliveryThread) => {
  let server: TestServer | undefined;
  let receiver: TestReceiver;

  beforeEach(async () => {
    // The first attempt of each message fails, the retry succeeds.
    receiver = await TestReceiver.start((request) => ({
      status: request.headers['upstash-retried'] === '0' ? 503 : 200,
    }));
    server = await startTestServer({ SQSTASH_DELIVERY_THREAD: deliveryThread });
  });
  afterEach(async () => {
    await stopTestServer(server);
    await receiver.stop();
  });

  it('signs with rotated keys, logs the failed attempt and counts both in the metrics', async () => {
    // Arrange
    const api = server!.url;
    const authorization = { authorization: `Bearer ${DEV_TOKEN}` };
    const rotated = (await (
      await fetch(`${api}/v2/keys/rotate`, { method: 'POST', headers: authorization })
    ).json()) as { current: string; next: string };

    // Act
    const published = await publishRaw(api, `${receiver.url}/hook`, {
      headers: { 'Upstash-Retries': '1', 'Upstash-Retry-Delay': '0' },
      body: 'hello',
    });
    const messageId = (published.json as { messageId: string }).messageId;
    await eventually(() => expect(receiver.requests).toHaveLength(2));
    const metrics = await eventually(async () => {
      const text = await (await fetch(`${api}/metrics`, { headers: authorization })).text();
      expect(text).toMatch(/^sqstash_messages_delivered_total\{kind="message"\} 1$/m);
      return text;
    });

    // Assess
    const verifier = new Receiver({
      currentSigningKey: rotated.current,
      nextSigningKey: rotated.next,
    });
    const delivered = receiver.requests[1]!;
    await expect(
      verifier.verify({
        signature: String(delivered.headers['upstash-signature']),
        body: delivered.body.toString(),
        url: `${receiver.url}/hook`,
      }),
    ).resolves.toBe(true);
    expect(metrics).toMatch(/^sqstash_messages_retried_total\{kind="message"\} 1$/m);
    const failedAttempt = server!.logger.lines
      .map((line) => JSON.parse(line) as { message: string; messageId?: string })
      .find((line) => line.messageId === messageId);
    expect(failedAttempt?.message).toBe('delivery attempt failed; will retry');
  });
});
