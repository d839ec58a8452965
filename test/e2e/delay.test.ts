import { useSdkSuite } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import type { TestReceiver } from '../helpers/receiver';
import { expectDeliveryHeaders, expectSignedDelivery } from '../helpers/signed-delivery';

/** Unix seconds at least `seconds` (and less than `seconds + 1`) from now. */
function unixSecondsIn(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds + 1;
}

describe('delayed delivery: Upstash-Delay and Upstash-Not-Before', () => {
  const suite = useSdkSuite();
  let receiver: TestReceiver;

  beforeEach(async () => {
    receiver = await suite.startReceiver();
  });

  it('holds a message published with delay: 2 for at least 2 seconds', async () => {
    const url = `${receiver.url}/delayed`;
    const publishedAt = Date.now();

    const published = await suite.client.publish({ url, body: 'later', delay: 2 });

    const [request] = await receiver.waitForRequests(1, 8_000);
    expect(request!.receivedAt - publishedAt).toBeGreaterThanOrEqual(2_000);
    expect(request!.body.toString()).toBe('later');
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('holds a message published with notBefore (unix seconds) until that time', async () => {
    const url = `${receiver.url}/not-before`;
    const notBefore = unixSecondsIn(1);

    const published = await suite.client.publish({ url, body: 'at a time', notBefore });

    const [request] = await receiver.waitForRequests(1, 8_000);
    expect(request!.receivedAt).toBeGreaterThanOrEqual(notBefore * 1000);
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
  });

  it('lets Upstash-Not-Before win over Upstash-Delay, whether the delay is longer or shorter', async () => {
    const notBefore = unixSecondsIn(1);
    const longerDelayUrl = `${receiver.url}/delay-1h`;
    const shorterDelayUrl = `${receiver.url}/delay-0s`;

    const answers = await Promise.all([
      publishRaw(suite.server.url, longerDelayUrl, {
        headers: { 'Upstash-Not-Before': String(notBefore), 'Upstash-Delay': '1h' },
        body: 'a',
      }),
      publishRaw(suite.server.url, shorterDelayUrl, {
        headers: { 'Upstash-Not-Before': String(notBefore), 'Upstash-Delay': '0s' },
        body: 'b',
      }),
    ]);

    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    // Both arrive at Not-Before: the 1h delay did not hold one back, the 0s delay did not rush the other.
    const requests = await receiver.waitForRequests(2, 8_000);
    for (const request of requests) {
      expect(request.receivedAt).toBeGreaterThanOrEqual(notBefore * 1000);
    }
    const byPath = new Map(requests.map((request) => [request.path, request]));
    await expectSignedDelivery(byPath.get('/delay-1h')!, longerDelayUrl);
    await expectSignedDelivery(byPath.get('/delay-0s')!, shorterDelayUrl);
  });

  it('delivers an undelayed message right away while a delayed one waits', async () => {
    const publishedAt = Date.now();

    await suite.client.publish({ url: `${receiver.url}/slow`, body: 'slow', delay: '2s' });
    await suite.client.publish({ url: `${receiver.url}/fast`, body: 'fast' });

    const [first] = await receiver.waitForRequests(1);
    expect(first!.path).toBe('/fast');
    const [, second] = await receiver.waitForRequests(2, 8_000);
    expect(second!.path).toBe('/slow');
    expect(second!.receivedAt - publishedAt).toBeGreaterThanOrEqual(2_000);
  });
});
