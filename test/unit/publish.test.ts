import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../lambdas/adapters/embedded/sqlite-database';
import { SqliteMessageStore } from '../../lambdas/adapters/embedded/sqlite-message-store';
import { SqliteQueueStore } from '../../lambdas/adapters/embedded/sqlite-queue-store';
import { SqliteUrlGroupStore } from '../../lambdas/adapters/embedded/sqlite-url-group-store';
import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '../../lambdas/core/errors';
import type { IncomingHeaders } from '../../lambdas/core/headers';
import type { PublishDeps, PublishRequest } from '../../lambdas/core/publish';
import { publishMessage } from '../../lambdas/core/publish';
import { fixedClock, sequentialIds, T0 } from '../helpers/messages';
import type { StoredEntry } from '../helpers/publish-deps';
import { recordingStore } from '../helpers/publish-deps';

const DESTINATION = 'https://example.com/hook';
const DEDUP_WINDOW_MS = 60_000;
const MAX_BODY_BYTES = 16;
const SECOND_MS = 1_000;
const CONFIG: CoreConfig = {
  ...DEFAULT_CORE_CONFIG,
  dedupWindowMs: DEDUP_WINDOW_MS,
  maxBodyBytes: MAX_BODY_BYTES,
};
const encoder = new TextEncoder();

function request(
  overrides: Partial<PublishRequest> & { headers?: IncomingHeaders } = {},
): PublishRequest {
  return {
    rawDestination: DESTINATION,
    rawQuery: '',
    headers: {},
    body: encoder.encode('hello'),
    ...overrides,
  };
}

describe('publishMessage', () => {
  let dataDir: string;
  let db: Database.Database;
  let store: SqliteMessageStore;
  let stored: StoredEntry[];
  let clock: ReturnType<typeof fixedClock>;
  let deps: PublishDeps;

  const storedCount = () =>
    (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sqstash-publish-'));
    db = openDatabase(dataDir, 'NORMAL');
    store = new SqliteMessageStore(db);
    const recording = recordingStore(store);
    stored = recording.stored;
    clock = fixedClock(T0);
    deps = {
      store: recording.store,
      clock,
      ids: sequentialIds(),
      config: CONFIG,
      queues: new SqliteQueueStore(db, () => {}),
      urlGroups: new SqliteUrlGroupStore(db),
    };
  });

  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores the message, due at its due time', async () => {
    const published = await publishMessage(
      deps,
      request({
        rawQuery: 'tenant=a&upstash-retries=1',
        headers: {
          'content-type': 'text/plain',
          'upstash-delay': '10s',
          'upstash-forward-x-trace': 't-1',
          'upstash-label': 'billing',
        },
        callerIp: '203.0.113.7',
      }),
    );

    const url = `${DESTINATION}?tenant=a`;
    expect(published).toEqual({ messageId: 'msg_1', url, deduplicated: false });
    expect(stored).toEqual([{ messageId: 'msg_1', dueAt: T0 + 10 * SECOND_MS }]);
    expect(await store.getMessage('msg_1')).toEqual({
      messageId: 'msg_1',
      url,
      method: 'POST',
      header: { 'Content-Type': ['text/plain'], 'X-Trace': ['t-1'] },
      body: Buffer.from('hello'),
      maxRetries: 1,
      timeoutMs: CONFIG.maxTimeoutMs,
      notBefore: T0 + 10 * SECOND_MS,
      createdAt: T0,
      labels: ['billing'],
      callerIp: '203.0.113.7',
    });
  });

  it('enqueues at the Not-Before time when one is given', async () => {
    const notBeforeS = T0 / SECOND_MS + 3_600;

    await publishMessage(deps, request({ headers: { 'upstash-not-before': String(notBeforeS) } }));

    expect(stored).toEqual([{ messageId: 'msg_1', dueAt: notBeforeS * SECOND_MS }]);
  });

  it('throws naming Upstash-Not-Before when it is further away than the maximum delay', async () => {
    const tooLateS = (T0 + CONFIG.maxDelayMs) / SECOND_MS + 1;

    const publishing = publishMessage(
      deps,
      request({ headers: { 'upstash-not-before': String(tooLateS) } }),
    );

    await expect(publishing).rejects.toThrow(BadRequestError);
    await expect(publishing).rejects.toThrow(`Upstash-Not-Before "${tooLateS}"`);
    expect(stored).toEqual([]);
    expect(storedCount()).toBe(0);
  });

  describe('deduplication', () => {
    const byId = { 'upstash-deduplication-id': 'order-42' };

    it('returns the existing message id and stores nothing new for a duplicate id', async () => {
      await publishMessage(deps, request({ headers: byId }));

      const duplicate = await publishMessage(
        deps,
        request({ headers: byId, body: encoder.encode('other') }),
      );

      expect(duplicate).toEqual({ messageId: 'msg_1', url: DESTINATION, deduplicated: true });
      // The claim is checked before anything is written: the duplicate leaves nothing behind.
      expect(stored).toEqual([{ messageId: 'msg_1', dueAt: T0 }]);
      expect(storedCount()).toBe(1);
      expect(await store.getMessage('msg_2')).toBeUndefined();
      expect((await store.getMessage('msg_1'))?.deduplicationId).toBe('order-42');
    });

    it('returns a new message for another id', async () => {
      await publishMessage(deps, request({ headers: byId }));

      const other = await publishMessage(
        deps,
        request({ headers: { 'upstash-deduplication-id': 'order-43' } }),
      );

      expect(other).toEqual({ messageId: 'msg_2', url: DESTINATION, deduplicated: false });
      expect(stored).toHaveLength(2);
    });

    it('returns the existing message for the same content and a new one for other content', async () => {
      const headers = { 'upstash-content-based-deduplication': 'true' };
      await publishMessage(deps, request({ headers }));

      const same = await publishMessage(deps, request({ headers }));
      const different = await publishMessage(
        deps,
        request({ headers, body: encoder.encode('hello!') }),
      );

      expect(same).toEqual({ messageId: 'msg_1', url: DESTINATION, deduplicated: true });
      expect(different).toEqual({ messageId: 'msg_3', url: DESTINATION, deduplicated: false });
    });

    it('still deduplicates just before the window ends', async () => {
      await publishMessage(deps, request({ headers: byId }));
      clock.advance(DEDUP_WINDOW_MS - 1);

      const duplicate = await publishMessage(deps, request({ headers: byId }));

      expect(duplicate).toMatchObject({ deduplicated: true });
    });

    it('accepts a new message once the claim has expired, and deduplicates against it', async () => {
      await publishMessage(deps, request({ headers: byId }));
      clock.advance(DEDUP_WINDOW_MS);

      const fresh = await publishMessage(deps, request({ headers: byId }));
      const duplicate = await publishMessage(deps, request({ headers: byId }));

      expect(fresh).toEqual({ messageId: 'msg_2', url: DESTINATION, deduplicated: false });
      expect(duplicate).toEqual({ messageId: 'msg_2', url: DESTINATION, deduplicated: true });
      expect(stored).toEqual([
        { messageId: 'msg_1', dueAt: T0 },
        { messageId: 'msg_2', dueAt: T0 + DEDUP_WINDOW_MS },
      ]);
      expect(await store.getMessage('msg_3')).toBeUndefined();
    });
  });

  describe('refusals', () => {
    it('accepts a body of exactly the maximum size', async () => {
      const published = await publishMessage(
        deps,
        request({ body: new Uint8Array(MAX_BODY_BYTES) }),
      );

      expect(published).toMatchObject({ deduplicated: false });
    });

    it('throws PayloadTooLargeError when the body is over the maximum', async () => {
      const publishing = publishMessage(
        deps,
        request({ body: new Uint8Array(MAX_BODY_BYTES + 1) }),
      );

      await expect(publishing).rejects.toThrow(PayloadTooLargeError);
      await expect(publishing).rejects.toMatchObject({ status: 413 });
      expect(storedCount()).toBe(0);
      expect(stored).toEqual([]);
    });

    it('throws NotFoundError naming the group when the destination is a URL group', async () => {
      const publishing = publishMessage(deps, request({ rawDestination: 'my-group' }));

      await expect(publishing).rejects.toThrow(NotFoundError);
      await expect(publishing).rejects.toThrow('"my-group"');
      expect(storedCount()).toBe(0);
    });

    it('throws BadRequestError naming Upstash-Cron when a schedule is requested', async () => {
      const publishing = publishMessage(
        deps,
        request({ headers: { 'upstash-cron': '* * * * *' } }),
      );

      await expect(publishing).rejects.toThrow(BadRequestError);
      await expect(publishing).rejects.toThrow('Upstash-Cron');
      expect(storedCount()).toBe(0);
      expect(stored).toEqual([]);
    });

    it('throws BadRequestError and stores nothing when a header is invalid', async () => {
      const publishing = publishMessage(deps, request({ headers: { 'upstash-retries': '99' } }));

      await expect(publishing).rejects.toThrow(BadRequestError);
      expect(storedCount()).toBe(0);
      expect(stored).toEqual([]);
    });

    it('throws BadRequestError when a query parameter holds an invalid setting', async () => {
      const publishing = publishMessage(deps, request({ rawQuery: 'upstash-delay=soon' }));

      await expect(publishing).rejects.toThrow('Upstash-Delay');
      expect(storedCount()).toBe(0);
    });
  });
});
