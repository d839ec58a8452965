import { DEV_TOKEN, eventually, useSdkSuite } from '../helpers/embedded-server';
import type { RawAnswer } from '../helpers/raw-api';
import { readAnswer } from '../helpers/raw-api';

type Row = { messageId: string; state: string; responseStatus?: number; error?: string };
type Story = {
  state: string;
  request: { url: string; method: string; header: Record<string, string[]>; body: unknown };
  events: { state: string; responseStatus?: number; responseBody?: unknown; error?: string }[];
  deadLetter?: { dlqId: string };
  callbacks: (Row & { url: string; callbackFor: unknown })[];
};

describe('the console API: messages by state, and one message story', () => {
  const suite = useSdkSuite({ SQSTASH_MAX_RETRIES: '1' });

  const get = async (path: string, token: string | null = DEV_TOKEN): Promise<RawAnswer> =>
    readAnswer(
      await fetch(`${suite.server.url}${path}`, {
        headers: token === null ? {} : { Authorization: `Bearer ${token}` },
      }),
    );
  const rows = async (query: string): Promise<Row[]> => {
    const answer = await get(`/v2/console/messages?${query}`);
    expect(answer.status).toBe(200);
    return (answer.json as { messages: Row[] }).messages;
  };
  const ids = async (query: string) => (await rows(query)).map((row) => row.messageId);

  it('lists each message once with its current state, filtered by status and label', async () => {
    const ok = await suite.startReceiver();
    const broken = await suite.startReceiver(() => ({ status: 503, body: 'down for repairs' }));
    const label = `run-${Date.now()}`;
    const delivered = await suite.client.publishJSON({
      url: `${ok.url}/ok`,
      body: { n: 1 },
      label,
    });
    const failed = await suite.client.publishJSON({
      url: `${broken.url}/broken`,
      body: { n: 2 },
      retries: 0,
      label,
    });
    const waiting = await suite.client.publishJSON({
      url: `${ok.url}/later`,
      body: { n: 3 },
      delay: 3600,
      label,
    });
    await eventually(async () => {
      expect(await ids(`status=delivered&label=${label}`)).toEqual([delivered.messageId]);
      expect(await ids(`status=failed&label=${label}`)).toEqual([failed.messageId]);
    });

    const all = await rows(`label=${label}`);

    expect(all.map((row) => [row.messageId, row.state])).toEqual([
      [waiting.messageId, 'CREATED'],
      [failed.messageId, 'FAILED'],
      [delivered.messageId, 'DELIVERED'],
    ]);
    expect(all[1]).toMatchObject({ responseStatus: 503, error: expect.stringContaining('503') });
    expect(await ids(`status=pending&label=${label}`)).toEqual([waiting.messageId]);
    expect(await ids(`status=inFlight&label=${label}`)).toEqual([]);
    expect(await ids(`label=${label}&order=earliestFirst&count=2`)).toEqual([
      delivered.messageId,
      failed.messageId,
    ]);
  });

  it('pages with cursors through every message', async () => {
    const label = `paging-${Date.now()}`;
    const published: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const { messageId } = await suite.client.publishJSON({
        url: 'http://127.0.0.1:9/never',
        body: { index },
        delay: 3600,
        label,
      });
      published.push(messageId);
    }
    for (const status of ['', 'status=pending']) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const answer = await get(
          `/v2/console/messages?label=${label}&count=2&${status}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        const page = answer.json as { messages: Row[]; cursor?: string };
        seen.push(...page.messages.map((row) => row.messageId));
        cursor = page.cursor;
      } while (cursor !== undefined && seen.length < 10);
      expect(seen).toEqual([...published].reverse());
    }
  });

  it('tells the story of a message: request, every attempt, its dead letter and callbacks', async () => {
    const broken = await suite.startReceiver(() => ({
      status: 500,
      body: `<b>${'x'.repeat(5000)}</b>`,
    }));
    const callbacks = await suite.startReceiver();
    const { messageId } = await suite.client.publishJSON({
      url: `${broken.url}/story`,
      body: { secret: 'not really' },
      headers: { 'X-Trace': 'abc' },
      retries: 1,
      retryDelay: '10',
      callback: `${callbacks.url}/every`,
      failureCallback: `${callbacks.url}/failed`,
    });
    await callbacks.waitForRequests(3);

    const story = await eventually(async () => {
      const answer = await get(`/v2/console/messages/${messageId}`);
      const body = answer.json as Story;
      expect(body.callbacks.map((callback) => callback.state)).toEqual([
        'DELIVERED',
        'DELIVERED',
        'DELIVERED',
      ]);
      return body;
    });

    expect(story.state).toBe('FAILED');
    expect(story.request).toMatchObject({
      url: `${broken.url}/story`,
      method: 'POST',
      header: expect.objectContaining({ 'X-Trace': ['abc'] }),
      body: { excerpt: '{"secret":"not really"}', bytes: 23, truncated: false },
    });
    expect(story.events.map((event) => event.state)).toEqual([
      'CREATED',
      'ACTIVE',
      'ERROR',
      'RETRY',
      'ACTIVE',
      'ERROR',
      'FAILED',
    ]);
    const error = story.events[2]!;
    expect(error.responseStatus).toBe(500);
    expect(error.responseBody).toEqual({
      excerpt: `<b>${'x'.repeat(2045)}`,
      bytes: 5007,
      truncated: true,
    });
    expect(story.deadLetter?.dlqId).toMatch(/^\d+-\d+$/);
    expect(story.callbacks.map((callback) => callback.url).sort()).toEqual([
      `${callbacks.url}/every`,
      `${callbacks.url}/every`,
      `${callbacks.url}/failed`,
    ]);
    for (const callback of story.callbacks) {
      expect(callback.callbackFor).toMatchObject({ sourceMessageId: messageId });
    }
  });

  it('refuses requests without the token, unknown parameters and unknown messages', async () => {
    expect((await get('/v2/console/messages', null)).status).toBe(401);
    expect((await get('/v2/console/messages/msg_x', 'wrong')).status).toBe(401);
    expect(await get('/v2/console/messages?status=sleeping')).toEqual(
      expect.objectContaining({
        status: 400,
        json: {
          error:
            'invalid status "sleeping": allowed values are pending, inFlight, delivered, failed, canceled',
        },
      }),
    );
    expect((await get('/v2/console/messages?colour=red')).status).toBe(400);
    expect((await get('/v2/console/messages/msg_unknown')).status).toBe(404);
  });
});
