import { createHash } from 'node:crypto';
import { DEV_TOKEN, eventually, useSdkSuite } from '../helpers/embedded-server';
import { publishRaw } from '../helpers/raw-api';
import { callbackBody } from '../helpers/signed-delivery';

const SECRET = 'Bearer s3cret-token';
const BODY = JSON.stringify({ card: '4242 4242 4242 4242' });
const hashed = (value: string) => `REDACTED:${createHash('sha256').update(value).digest('hex')}`;

/** The API never shows a redacted value; only its hash. */
function expectHidden(view: unknown): void {
  const text = JSON.stringify(view);
  expect(text).not.toContain('s3cret');
  // The whole number: a part of it could be in a receiver's random port.
  expect(text).not.toContain('4242 4242 4242 4242');
  expect(text).not.toContain(Buffer.from(BODY).toString('base64'));
}

describe('field redaction with the official SDK', () => {
  const suite = useSdkSuite();
  const redact = { body: true as const, header: ['Authorization'] };
  const headers = { Authorization: SECRET, 'X-Visible': 'shown' };

  it('shows redacted fields hashed in messages.get and the logs', async () => {
    const { client } = suite;
    const receiver = await suite.startReceiver();
    const { messageId } = await client.publishJSON({
      url: `${receiver.url}/later`,
      body: JSON.parse(BODY),
      headers,
      redact,
      delay: 3600,
    });

    const message = await client.messages.get(messageId);
    expect(message.header).toMatchObject({
      Authorization: [hashed(SECRET)],
      'X-Visible': ['shown'],
    });
    expect(message.body).toBe(hashed(BODY));
    expectHidden(message);
    const { logs } = await client.logs({ filter: { messageId } });
    expect(logs[0]).toMatchObject({
      header: { Authorization: [hashed(SECRET)] },
      body: Buffer.from(hashed(BODY)).toString('base64'),
    });
    expectHidden(logs);
    // The console's story of the message hides them too.
    const story = await fetch(`${suite.server.url}/v2/console/messages/${messageId}`, {
      headers: { Authorization: `Bearer ${DEV_TOKEN}` },
    });
    expect(story.status).toBe(200);
    const shown = (await story.json()) as { request: { body: { excerpt: string } } };
    expect(shown.request.body.excerpt).toBe(hashed(BODY));
    expectHidden(shown);
    await client.messages.cancel(messageId);
  });

  it('delivers the real values, and a DLQ retry delivers the originals while the DLQ shows hashes', async () => {
    const { client } = suite;
    let fail = true;
    const receiver = await suite.startReceiver(() => ({ status: fail ? 500 : 200 }));
    const callbacks = await suite.startReceiver();
    const { messageId } = await client.publishJSON({
      url: `${receiver.url}/secret`,
      body: JSON.parse(BODY),
      headers,
      redact,
      retries: 0,
      failureCallback: `${callbacks.url}/failed`,
    });
    const [first] = await receiver.waitForRequests(1);
    expect(first!.headers.authorization).toBe(SECRET);
    expect(first!.body.toString()).toBe(BODY);
    // The failure callback's receiver gets the payload as is.
    const [failure] = await callbacks.waitForRequests(1);
    expect(Buffer.from(String(callbackBody(failure!).sourceBody), 'base64').toString()).toBe(BODY);

    const entry = await eventually(async () => {
      const { messages } = await client.dlq.listMessages({ filter: { messageId } });
      expect(messages).toHaveLength(1);
      return messages[0]!;
    });
    expect(entry.header).toMatchObject({ Authorization: [hashed(SECRET)] });
    expect(entry.body).toBe(hashed(BODY));
    expectHidden(entry);
    // The failure callback message hides the payload it carries.
    const callbackLogs = await client.logs({ filter: { url: `${callbacks.url}/failed` } });
    expect(callbackLogs.logs.length).toBeGreaterThan(0);
    expectHidden(callbackLogs.logs);
    // So do the console's views: the failed message's story, its failure callback's (whose body
    // carries the source's), and the list of messages.
    const consoleView = async (path: string) => {
      const answer = await fetch(`${suite.server.url}/v2/console/${path}`, {
        headers: { Authorization: `Bearer ${DEV_TOKEN}` },
      });
      expect(answer.status).toBe(200);
      return answer.json() as Promise<Record<string, unknown>>;
    };
    const story = (await consoleView(`messages/${messageId}`)) as {
      request: { header: Record<string, string[]> };
      callbacks: { messageId: string }[];
    };
    expect(story.request.header).toMatchObject({ Authorization: [hashed(SECRET)] });
    expect(story.callbacks).toHaveLength(1);
    expectHidden(story);
    const callbackStory = await consoleView(`messages/${story.callbacks[0]!.messageId}`);
    expect(callbackStory).toMatchObject({
      request: { body: { excerpt: expect.stringMatching(/^REDACTED:[0-9a-f]{64}$/) } },
    });
    expectHidden(callbackStory);
    expectHidden(await consoleView('messages?count=100'));

    fail = false;
    await client.dlq.retry(entry.dlqId);
    const [, retried] = await receiver.waitForRequests(2);
    expect(retried!.headers.authorization).toBe(SECRET);
    expect(retried!.body.toString()).toBe(BODY);
  });

  it('shows a schedule with redacted fields hashed', async () => {
    const { client } = suite;
    const receiver = await suite.startReceiver();
    const { scheduleId } = await client.schedules.create({
      destination: `${receiver.url}/nightly`,
      cron: '0 0 1 1 *',
      body: BODY,
      headers,
      redact,
    });

    const schedule = await client.schedules.get(scheduleId);
    expect(schedule.header).toMatchObject({ Authorization: [hashed(SECRET)] });
    expect(schedule.body).toBe(hashed(BODY));
    expectHidden(await client.schedules.list());
    await client.schedules.delete(scheduleId);
  });

  it('reads every spelling of Upstash-Redact-Fields, and refuses an unknown field', async () => {
    const { server } = suite;
    const receiver = await suite.startReceiver();
    const accepted = await publishRaw(server.url, `${receiver.url}/raw`, {
      headers: {
        'Upstash-Redact-Fields': 'body, headers[Authorization]',
        'Upstash-Forward-Authorization': SECRET,
        'Upstash-Delay': '1h',
      },
      body: BODY,
    });
    expect(accepted.status).toBe(200);
    const messageId = (accepted.json as { messageId: string }).messageId;
    expectHidden(await suite.client.messages.get(messageId));

    const refused = await publishRaw(server.url, `${receiver.url}/raw`, {
      headers: { 'Upstash-Redact-Fields': 'body, cookies' },
    });
    expect(refused).toMatchObject({
      status: 400,
      json: { error: expect.stringContaining('Upstash-Redact-Fields') },
    });
  });
});
