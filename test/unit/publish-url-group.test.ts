import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { BadRequestError, NotFoundError } from '../../lambdas/core/errors';
import type { IncomingHeaders } from '../../lambdas/core/headers';
import type { PublishRequest } from '../../lambdas/core/publish';
import { publishMessage } from '../../lambdas/core/publish';
import { T0 } from '../helpers/messages';
import type { PublishFixture } from '../helpers/publish-deps';
import { publishFixture } from '../helpers/publish-deps';

const A = 'https://a.example.com/hook';
const B = 'https://b.example.com/hook?tenant=1';
const C = 'https://c.example.com/';
const DEDUP_WINDOW_MS = 60_000;
const CONFIG: CoreConfig = { ...DEFAULT_CORE_CONFIG, dedupWindowMs: DEDUP_WINDOW_MS };
const encoder = new TextEncoder();

function request(
  overrides: Partial<PublishRequest> & { headers?: IncomingHeaders } = {},
): PublishRequest {
  return {
    rawDestination: 'orders',
    rawQuery: '',
    headers: {},
    body: encoder.encode('hello'),
    ...overrides,
  };
}

describe('publishMessage to a URL group', () => {
  let fixture: PublishFixture;

  beforeEach(async () => {
    fixture = publishFixture(CONFIG);
    await fixture.urlGroups.upsertEndpoints('orders', [{ url: A, name: 'a' }, { url: B }], T0);
  });

  afterEach(() => {
    fixture.cleanup();
  });

  it('stores and enqueues one message per endpoint, in group order, each with its own id', async () => {
    const published = await publishMessage(
      fixture.deps,
      request({
        rawQuery: 'upstash-retries=1',
        headers: {
          'content-type': 'text/plain',
          'upstash-delay': '10s',
          'upstash-forward-x-trace': 't-1',
        },
        callerIp: '203.0.113.7',
      }),
    );

    expect(published).toEqual([
      { messageId: 'msg_1', url: A, deduplicated: false },
      { messageId: 'msg_2', url: B, deduplicated: false },
    ]);
    const dueAt = T0 + 10_000;
    expect(fixture.stored).toEqual([
      { messageId: 'msg_1', dueAt },
      { messageId: 'msg_2', dueAt },
    ]);
    const shared = {
      method: 'POST',
      header: { 'Content-Type': ['text/plain'], 'X-Trace': ['t-1'] },
      body: Buffer.from('hello'),
      maxRetries: 1,
      timeoutMs: CONFIG.maxTimeoutMs,
      notBefore: dueAt,
      createdAt: T0,
      labels: [],
      callerIp: '203.0.113.7',
      topicName: 'orders',
    };
    expect(await fixture.store.getMessage('msg_1')).toEqual({
      ...shared,
      messageId: 'msg_1',
      url: A,
      endpointName: 'a',
    });
    const second = await fixture.store.getMessage('msg_2');
    expect(second).toEqual({ ...shared, messageId: 'msg_2', url: B });
    expect(second).not.toHaveProperty('endpointName');
  });

  it('throws NotFoundError naming the group, and stores nothing, for an unknown group', async () => {
    const publishing = publishMessage(fixture.deps, request({ rawDestination: 'unknown' }));

    await expect(publishing).rejects.toThrow(NotFoundError);
    await expect(publishing).rejects.toThrow('URL group "unknown" not found');
    expect(fixture.storedCount()).toBe(0);
    expect(fixture.stored).toEqual([]);
  });

  it('refuses invalid headers before fanning out, storing nothing', async () => {
    const publishing = publishMessage(
      fixture.deps,
      request({ headers: { 'upstash-retries': '99' } }),
    );

    await expect(publishing).rejects.toThrow(BadRequestError);
    await expect(publishing).rejects.toThrow('Upstash-Retries');
    expect(fixture.storedCount()).toBe(0);
  });

  it('publishes into a FIFO queue for every endpoint when a queue is named', async () => {
    const published = await publishMessage(fixture.deps, request({ queueName: 'fifo' }));

    expect(published).toHaveLength(2);
    expect((await fixture.store.getMessage('msg_1'))?.queueName).toBe('fifo');
    expect((await fixture.store.getMessage('msg_2'))?.queueName).toBe('fifo');
    expect(await fixture.deps.queues.getQueue('fifo')).toBeDefined();
  });

  describe('deduplication, per endpoint', () => {
    const byId = { 'upstash-deduplication-id': 'order-42' };

    it('answers every endpoint as a duplicate naming its first message, storing nothing new', async () => {
      await publishMessage(fixture.deps, request({ headers: byId }));

      const again = await publishMessage(fixture.deps, request({ headers: byId }));

      expect(again).toEqual([
        { messageId: 'msg_1', url: A, deduplicated: true },
        { messageId: 'msg_2', url: B, deduplicated: true },
      ]);
      // Each claim is checked before anything is written: the duplicates leave nothing behind.
      expect(fixture.stored).toHaveLength(2);
      expect(fixture.storedCount()).toBe(2);
    });

    it('publishes only to an endpoint added since, deduplicating the others', async () => {
      await publishMessage(fixture.deps, request({ headers: byId }));
      await fixture.urlGroups.upsertEndpoints('orders', [{ url: C }], T0);

      const again = await publishMessage(fixture.deps, request({ headers: byId }));

      expect(again).toEqual([
        { messageId: 'msg_1', url: A, deduplicated: true },
        { messageId: 'msg_2', url: B, deduplicated: true },
        { messageId: 'msg_5', url: C, deduplicated: false },
      ]);
      expect(fixture.stored.map((entry) => entry.messageId)).toEqual(['msg_1', 'msg_2', 'msg_5']);
      expect(fixture.storedCount()).toBe(3);
    });

    it('keeps the keys of a group apart from a URL publish with the same id', async () => {
      const direct = await publishMessage(
        fixture.deps,
        request({ rawDestination: A, headers: byId }),
      );

      const fanned = await publishMessage(fixture.deps, request({ headers: byId }));

      expect(direct).toEqual({ messageId: 'msg_1', url: A, deduplicated: false });
      expect(fanned).toEqual([
        { messageId: 'msg_2', url: A, deduplicated: false },
        { messageId: 'msg_3', url: B, deduplicated: false },
      ]);
    });

    it('deduplicates on content: the same body again is a duplicate, another body is not', async () => {
      const headers = { 'upstash-content-based-deduplication': 'true' };
      await publishMessage(fixture.deps, request({ headers }));

      const same = await publishMessage(fixture.deps, request({ headers }));
      const other = await publishMessage(
        fixture.deps,
        request({ headers, body: encoder.encode('other') }),
      );

      expect(same).toEqual([
        { messageId: 'msg_1', url: A, deduplicated: true },
        { messageId: 'msg_2', url: B, deduplicated: true },
      ]);
      expect(other).toEqual([
        { messageId: 'msg_5', url: A, deduplicated: false },
        { messageId: 'msg_6', url: B, deduplicated: false },
      ]);
    });

    it('publishes again once the window has passed', async () => {
      await publishMessage(fixture.deps, request({ headers: byId }));
      fixture.clock.advance(DEDUP_WINDOW_MS);

      const again = await publishMessage(fixture.deps, request({ headers: byId }));

      expect(again).toEqual([
        { messageId: 'msg_3', url: A, deduplicated: false },
        { messageId: 'msg_4', url: B, deduplicated: false },
      ]);
    });
  });
});
