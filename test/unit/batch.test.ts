import { MAX_BATCH_MESSAGES, parseBatchElement, publishBatch } from '../../lambdas/core/batch';
import type { CoreConfig } from '../../lambdas/core/config';
import { DEFAULT_CORE_CONFIG } from '../../lambdas/core/config';
import { BadRequestError } from '../../lambdas/core/errors';
import { expectBadRequest } from '../helpers/bad-request';
import { T0 } from '../helpers/messages';
import type { PublishFixture } from '../helpers/publish-deps';
import { publishFixture } from '../helpers/publish-deps';

const A = 'https://a.example.com/hook';
const B = 'https://b.example.com/hook';
const URL_DESTINATION = 'https://example.com/direct?tenant=a';
const CONFIG: CoreConfig = { ...DEFAULT_CORE_CONFIG, maxBodyBytes: 64 };
const encoder = new TextEncoder();

describe('publishBatch', () => {
  let fixture: PublishFixture;
  const batch = (messages: unknown) => publishBatch(fixture.deps, { messages });

  beforeEach(async () => {
    fixture = publishFixture(CONFIG);
    await fixture.urlGroups.upsertEndpoints('orders', [{ url: A, name: 'a' }, { url: B }], T0);
  });

  afterEach(() => {
    fixture.cleanup();
  });

  it('answers in request order: an object for a URL, an array for a group, an error for a bad one', async () => {
    const results = await batch([
      { destination: URL_DESTINATION, body: 'one' },
      { destination: 'orders', body: 'two' },
      { destination: 'missing-group', body: 'three' },
      { destination: URL_DESTINATION, headers: { 'upstash-retries': 'many' } },
      { destination: B, body: 'five' },
    ]);

    expect(results).toEqual([
      { messageId: 'msg_1', url: URL_DESTINATION, deduplicated: false },
      [
        { messageId: 'msg_2', url: A, deduplicated: false },
        { messageId: 'msg_3', url: B, deduplicated: false },
      ],
      { error: 'URL group "missing-group" not found' },
      { error: expect.stringContaining('invalid Upstash-Retries "many"') },
      { messageId: 'msg_4', url: B, deduplicated: false },
    ]);
    expect(fixture.stored.map((entry) => entry.messageId)).toEqual([
      'msg_1',
      'msg_2',
      'msg_3',
      'msg_4',
    ]);
    expect((await fixture.store.getMessage('msg_3'))?.topicName).toBe('orders');
    expect(Buffer.from((await fixture.store.getMessage('msg_4'))!.body).toString()).toBe('five');
  });

  it('reads header names in any case, and forwards Upstash-Forward-* headers', async () => {
    await batch([
      {
        destination: URL_DESTINATION,
        headers: {
          'UPSTASH-DELAY': '10s',
          'Content-Type': 'application/json',
          'upstash-forward-X-Tenant': 'acme',
        },
        body: '{"a":1}',
      },
    ]);

    expect(fixture.stored).toEqual([{ messageId: 'msg_1', dueAt: T0 + 10_000 }]);
    expect((await fixture.store.getMessage('msg_1'))?.header).toEqual({
      'Content-Type': ['application/json'],
      'X-Tenant': ['acme'],
    });
  });

  it('takes a destination query string as part of the URL, not as configuration', async () => {
    const destination = `${A}?upstash-delay=10s&x=1`;

    const [result] = await batch([{ destination }]);

    expect(result).toEqual({ messageId: 'msg_1', url: destination, deduplicated: false });
    expect(fixture.stored).toEqual([{ messageId: 'msg_1', dueAt: T0 }]);
  });

  it('accepts null body and queue, as the Python SDK sends them, as absent', async () => {
    const [result] = await batch([{ destination: A, headers: null, body: null, queue: null }]);

    expect(result).toEqual({ messageId: 'msg_1', url: A, deduplicated: false });
    const message = await fixture.store.getMessage('msg_1');
    expect(message?.body).toHaveLength(0);
    expect(message?.queueName).toBeUndefined();
  });

  it('publishes into the named FIFO queue', async () => {
    await batch([{ destination: A, queue: 'fifo' }]);

    expect((await fixture.store.getMessage('msg_1'))?.queueName).toBe('fifo');
    expect(await fixture.deps.queues.getQueue('fifo')).toBeDefined();
  });

  it('deduplicates an element like a publish: a repeated id answers the first message', async () => {
    const element = { destination: A, headers: { 'Upstash-Deduplication-Id': 'd-1' } };

    const results = await batch([element, element]);

    expect(results).toEqual([
      { messageId: 'msg_1', url: A, deduplicated: false },
      { messageId: 'msg_1', url: A, deduplicated: true },
    ]);
  });

  it('answers an over-large body as an error in its slot', async () => {
    const results = await batch([{ destination: A, body: 'x'.repeat(65) }, { destination: B }]);

    expect(results).toEqual([
      { error: expect.stringContaining('at most 64 bytes') },
      { messageId: 'msg_1', url: B, deduplicated: false },
    ]);
  });

  it('answers [] for an empty batch', async () => {
    expect(await batch([])).toEqual([]);
  });

  it.each([
    ['a JSON object', { destination: A }],
    ['no body', undefined],
    ['a string', '[]'],
  ])('refuses %s as a whole with a 400 saying an array is expected', async (_case, messages) => {
    const publishing = batch(messages);

    await expect(publishing).rejects.toThrow(BadRequestError);
    await expect(publishing).rejects.toThrow(
      'the body is not an array; expected a JSON array of messages',
    );
  });

  it(`refuses more than ${MAX_BATCH_MESSAGES} messages, publishing none`, async () => {
    const elements = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => ({ destination: A }));

    const publishing = batch(elements);

    await expect(publishing).rejects.toThrow(
      `${MAX_BATCH_MESSAGES + 1} messages; at most ${MAX_BATCH_MESSAGES}`,
    );
    expect(fixture.storedCount()).toBe(0);
  });

  it('accepts exactly the maximum number of messages', async () => {
    const elements = Array.from({ length: MAX_BATCH_MESSAGES }, () => ({ destination: A }));

    const results = await batch(elements);

    expect(results).toHaveLength(MAX_BATCH_MESSAGES);
    expect(fixture.storedCount()).toBe(MAX_BATCH_MESSAGES);
  });

  it('fails the request on a server fault, storing none of its messages', async () => {
    // The store fails on the second message: SQLite's insertMessages is one transaction.
    fixture.db.exec(
      `CREATE TRIGGER disk_full BEFORE INSERT ON messages WHEN NEW.body = X'626f6f6d'
       BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    );

    const publishing = batch([
      { destination: A },
      { destination: B, body: 'boom' },
      { destination: A },
    ]);

    // Matched by shape: better-sqlite3 makes its errors with the Error of the first test file
    // that loaded it in this worker, which another file's toThrow does not recognize.
    await expect(publishing).rejects.toMatchObject({ message: 'disk full' });
    expect(fixture.storedCount()).toBe(0);
  });
});

describe('parseBatchElement', () => {
  it('builds the publish the element stands for', () => {
    expect(
      parseBatchElement(
        { destination: 'orders', headers: { 'Upstash-Delay': '5s' }, body: 'hé', queue: 'q' },
        '203.0.113.7',
      ),
    ).toEqual({
      rawDestination: 'orders',
      rawQuery: '',
      headers: { 'upstash-delay': '5s' },
      body: encoder.encode('hé'),
      callerIp: '203.0.113.7',
      queueName: 'q',
    });
  });

  it.each([
    ['a string', A, 'expected an object with "destination"'],
    ['null', null, 'expected an object with "destination"'],
    ['no destination', { body: 'x' }, '"destination" is required'],
    ['a numeric destination', { destination: 5 }, '"destination" is required'],
    ['an object body', { destination: A, body: { a: 1 } }, '"body" must be a string or null'],
    ['a numeric queue', { destination: A, queue: 1 }, '"queue" must be a queue name or null'],
    ['headers as an array', { destination: A, headers: ['a'] }, '"headers" must be an object'],
    [
      'a numeric header value',
      { destination: A, headers: { 'Upstash-Retries': 3 } },
      'headers["Upstash-Retries"] must be a string, not 3',
    ],
    [
      'one header in two cases',
      { destination: A, headers: { 'Upstash-Delay': '1s', 'upstash-delay': '2s' } },
      'headers has "upstash-delay" more than once',
    ],
  ])('refuses %s, naming the field', (_case, element, fragment) => {
    expectBadRequest(() => parseBatchElement(element), fragment);
  });

  it('treats a header named like an Object property as an ordinary header', () => {
    const parsed = parseBatchElement(
      JSON.parse(`{"destination": "${A}", "headers": {"constructor": "x", "__proto__": "y"}}`),
    );

    expect(Object.entries(parsed.headers)).toEqual([
      ['constructor', 'x'],
      ['__proto__', 'y'],
    ]);
  });
});
