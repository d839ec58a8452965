import { useSdkSuite } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import type { TestReceiver } from '../helpers/receiver';
import {
  expectDeliveryHeaders,
  expectNoMoreRequests,
  expectSignedDelivery,
} from '../helpers/signed-delivery';

describe('deduplication', () => {
  const suite = useSdkSuite();
  let receiver: TestReceiver;

  beforeEach(async () => {
    receiver = await suite.startReceiver();
  });

  it('accepts a repeated deduplicationId with 202, the first messageId and deduplicated: true, and delivers once', async () => {
    const url = `${receiver.url}/orders`;

    const first = await suite.client.publish({ url, body: 'order 1', deduplicationId: 'order-1' });
    // The SDK does not expose the status; it parses the body.
    const second = await suite.client.publish({ url, body: 'order 1', deduplicationId: 'order-1' });
    const third = await publishRaw(suite.server.url, url, {
      headers: { 'Upstash-Deduplication-Id': 'order-1' },
      body: 'order 1 again, any body',
    });

    expect(first).toEqual({ messageId: expect.stringMatching(/^msg_/), url });
    expect(first.deduplicated).toBeFalsy();
    expect(second).toEqual({ messageId: first.messageId, url, deduplicated: true });
    expect(third.status).toBe(202);
    expect(third.contentType).toMatch(/^application\/json/);
    expect(third.json).toEqual({ messageId: first.messageId, url, deduplicated: true });
    const [request] = await receiver.waitForRequests(1);
    expect(request!.body.toString()).toBe('order 1');
    expectDeliveryHeaders(request!, { messageId: first.messageId, retried: 0 });
    await expectSignedDelivery(request!, url);
    await expectNoMoreRequests(receiver, 1);
  });

  it('answers a first publish with a deduplication id with 200', async () => {
    const answer = await publishRaw(suite.server.url, `${receiver.url}/fresh`, {
      headers: { 'Upstash-Deduplication-Id': 'fresh-id' },
      body: 'x',
    });

    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      messageId: expect.stringMatching(/^msg_/),
      url: `${receiver.url}/fresh`,
    });
    await receiver.waitForRequests(1);
  });

  it('lets exactly one of many concurrent publishes with the same deduplication id through', async () => {
    const url = `${receiver.url}/race`;

    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        publishRaw(suite.server.url, url, {
          headers: { 'Upstash-Deduplication-Id': 'race-1' },
          body: `attempt ${i}`,
        }),
      ),
    );

    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(9).fill(202)]);
    const ids = new Set(answers.map((answer) => (answer.json as { messageId: string }).messageId));
    expect(ids.size).toBe(1);
    const [request] = await receiver.waitForRequests(1);
    expect(request!.headers['upstash-message-id']).toBe([...ids][0]);
    await expectNoMoreRequests(receiver, 1);
  });

  it('delivers publishes with different deduplication ids separately', async () => {
    const url = `${receiver.url}/distinct`;

    const a = await suite.client.publish({ url, body: 'same body', deduplicationId: 'distinct-a' });
    const b = await suite.client.publish({ url, body: 'same body', deduplicationId: 'distinct-b' });

    expect(b.messageId).not.toBe(a.messageId);
    expect(b.deduplicated).toBeFalsy();
    const requests = await receiver.waitForRequests(2);
    expect(new Set(requests.map((r) => r.headers['upstash-message-id']))).toEqual(
      new Set([a.messageId, b.messageId]),
    );
    await expectNoMoreRequests(receiver, 2);
  });

  it('deduplicates contentBasedDeduplication publishes with the same body, not those with another body', async () => {
    const url = `${receiver.url}/content`;
    const publish = (body: string) =>
      suite.client.publish({ url, body, contentBasedDeduplication: true });

    const first = await publish('same content');
    const repeat = await publish('same content');
    const other = await publish('other content');

    expect(repeat).toEqual({ messageId: first.messageId, url, deduplicated: true });
    expect(other.messageId).not.toBe(first.messageId);
    expect(other.deduplicated).toBeFalsy();
    const requests = await receiver.waitForRequests(2);
    const byBody = new Map(requests.map((r) => [r.body.toString(), r]));
    expect([...byBody.keys()].sort()).toEqual(['other content', 'same content']);
    expectDeliveryHeaders(byBody.get('same content')!, { messageId: first.messageId, retried: 0 });
    expectDeliveryHeaders(byBody.get('other content')!, { messageId: other.messageId, retried: 0 });
    await expectNoMoreRequests(receiver, 2);
  });

  it('answers a content-based duplicate with 202 and keys content on the destination too', async () => {
    const headers = {
      'Content-Type': 'text/plain',
      'Upstash-Content-Based-Deduplication': 'true',
    };
    const url = `${receiver.url}/raw-content`;

    const first = await publishRaw(suite.server.url, url, { headers, body: 'hello' });
    const repeat = await publishRaw(suite.server.url, url, { headers, body: 'hello' });
    const elsewhere = await publishRaw(suite.server.url, `${url}?other=1`, {
      headers,
      body: 'hello',
    });

    expect(first.status).toBe(200);
    const { messageId } = first.json as { messageId: string };
    expect(repeat.status).toBe(202);
    expect(repeat.json).toEqual({ messageId, url, deduplicated: true });
    expect(elsewhere.status).toBe(200);
    expect((elsewhere.json as { messageId: string }).messageId).not.toBe(messageId);
    const requests = await receiver.waitForRequests(2);
    expect(requests.map((r) => r.path).sort()).toEqual(['/raw-content', '/raw-content?other=1']);
    await expectNoMoreRequests(receiver, 2);
  });
});
