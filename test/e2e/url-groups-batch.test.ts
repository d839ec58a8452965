import { Client } from '@upstash/qstash';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, startTestServer, stopTestServer } from '../helpers/embedded-server';
import { publishRaw, readAnswer } from '../helpers/raw-api';
import type { ReceivedRequest } from '../helpers/receiver';
import { TestReceiver } from '../helpers/receiver';
import {
  expectDeliveryHeaders,
  expectNoMoreRequests,
  expectSignedDelivery,
} from '../helpers/signed-delivery';

type Published = { messageId: string; url: string; deduplicated?: boolean };

describe('URL groups and batch, through the official SDK', () => {
  let server: TestServer;
  let client: Client;
  let groupCount = 0;
  const receivers: TestReceiver[] = [];
  const startReceiver = async () => {
    const receiver = await TestReceiver.start();
    receivers.push(receiver);
    return receiver;
  };
  /** A group name of its own for each test, since the server is shared. */
  const newGroupName = () => `group-${++groupCount}`;

  const api = (method: string, path: string, body?: string) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${DEV_TOKEN}`, 'content-type': 'application/json' },
      body,
    }).then(readAnswer);

  /** The delivery carrying `messageId`, checked to be signed for `url`. */
  const expectDeliveredOnce = async (
    requests: readonly ReceivedRequest[],
    published: Published,
    topicName?: string,
  ) => {
    const matching = requests.filter(
      (request) => request.headers['upstash-message-id'] === published.messageId,
    );
    expect(matching).toHaveLength(1);
    const [request] = matching;
    expectDeliveryHeaders(request!, { messageId: published.messageId, retried: 0 });
    await expectSignedDelivery(request!, published.url);
    expect(request!.headers['upstash-topic-name']).toBe(topicName);
    return request!;
  };

  beforeAll(async () => {
    server = await startTestServer();
    client = new Client({ baseUrl: server.url, token: DEV_TOKEN });
  });
  beforeEach(() => {
    // The SDK logs every failed request with console.error; the failures here are expected ones.
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
  });
  afterAll(async () => {
    await stopTestServer(server);
  });

  describe('managing URL groups', () => {
    it('lists [] before any group exists', async () => {
      expect(await client.urlGroups.list()).toEqual([]);
      const raw = await api('GET', '/v2/topics');
      expect(raw).toMatchObject({ status: 200, json: [] });
    });

    it('adds, gets, lists, removes endpoints and deletes the group with the last one', async () => {
      const name = newGroupName();
      const before = Date.now();

      await client.urlGroups.addEndpoints({
        name,
        endpoints: [
          { url: 'https://a.example.com/hook', name: 'a' },
          { url: 'https://b.example.com/hook?x=1' },
        ],
      });
      await client.urlGroups.addEndpoints({
        name,
        endpoints: [{ url: 'https://c.example.com/', name: 'c' }],
      });

      const group = await client.urlGroups.get(name);
      expect(group).toEqual({
        name,
        createdAt: expect.any(Number),
        updatedAt: expect.any(Number),
        endpoints: [
          { url: 'https://a.example.com/hook', name: 'a' },
          { url: 'https://b.example.com/hook?x=1' },
          { url: 'https://c.example.com/', name: 'c' },
        ],
      });
      expect(group.createdAt).toBeGreaterThanOrEqual(before);
      expect(group.updatedAt).toBeGreaterThanOrEqual(group.createdAt);
      expect(await client.urlGroups.list()).toContainEqual(group);

      await client.urlGroups.removeEndpoints({
        name,
        endpoints: [{ name: 'a' }, { url: 'https://b.example.com/hook?x=1' }],
      });
      expect((await client.urlGroups.get(name)).endpoints).toEqual([
        { url: 'https://c.example.com/', name: 'c' },
      ]);

      await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: 'c' }] });
      await expect(client.urlGroups.get(name)).rejects.toMatchObject({ status: 404 });
      expect((await client.urlGroups.list()).map((listed) => listed.name)).not.toContain(name);
    });

    it('deletes a group, then answers 404 for it', async () => {
      const name = newGroupName();
      await client.urlGroups.addEndpoints({ name, endpoints: [{ url: 'https://a.example.com' }] });

      await client.urlGroups.delete(name);

      const raw = await api('GET', `/v2/topics/${name}`);
      expect(raw).toEqual({
        status: 404,
        contentType: 'application/json',
        json: { error: `URL group "${name}" not found` },
      });
      await expect(client.urlGroups.delete(name)).rejects.toMatchObject({ status: 404 });
    });

    it('refuses bad input with a 400 naming the field or what was expected', async () => {
      const name = newGroupName();

      const malformed = await api('POST', `/v2/topics/${name}/endpoints`, '{"endpoints": [');
      const badUrl = await api(
        'POST',
        `/v2/topics/${name}/endpoints`,
        JSON.stringify({ endpoints: [{ url: 'https://ok.example.com' }, { url: 'not a url' }] }),
      );
      const badName = await api(
        'POST',
        '/v2/topics/bad name/endpoints',
        JSON.stringify({ endpoints: [{ url: 'https://ok.example.com' }] }),
      );
      const noSelector = await api(
        'DELETE',
        `/v2/topics/${name}/endpoints`,
        JSON.stringify({ endpoints: [{}] }),
      );

      expect(malformed.status).toBe(400);
      expect(malformed.json).toEqual({
        error: expect.stringMatching(/not valid JSON; expected JSON such as \{"endpoints"/),
      });
      expect(badUrl).toMatchObject({
        status: 400,
        json: { error: 'invalid endpoints[1].url "not a url": not a valid URL' },
      });
      expect(badName).toMatchObject({
        status: 400,
        json: { error: expect.stringContaining('invalid URL group name "bad%20name"') },
      });
      expect(noSelector).toMatchObject({
        status: 400,
        json: { error: expect.stringContaining('endpoints[0] needs "name" or "url"') },
      });
      // Nothing was created by the refused calls.
      await expect(client.urlGroups.get(name)).rejects.toMatchObject({ status: 404 });
    });

    it('refuses an endpoint name another url of the group holds', async () => {
      const name = newGroupName();
      await client.urlGroups.addEndpoints({
        name,
        endpoints: [{ url: 'https://a.example.com', name: 'primary' }],
      });

      const adding = client.urlGroups.addEndpoints({
        name,
        endpoints: [{ url: 'https://b.example.com', name: 'primary' }],
      });

      await expect(adding).rejects.toMatchObject({ status: 400 });
      // The SDK puts the raw error body into its message, so the quotes arrive JSON-escaped.
      await expect(adding).rejects.toThrow(
        /endpoint name \\"primary\\" is already used by https:\/\/a\.example\.com/,
      );
      expect((await client.urlGroups.get(name)).endpoints).toEqual([
        { url: 'https://a.example.com', name: 'primary' },
      ]);
    });
  });

  describe('publishing to a URL group', () => {
    it('fans out one signed message per endpoint, each with Upstash-Topic-Name', async () => {
      const receiverA = await startReceiver();
      const receiverB = await startReceiver();
      const name = newGroupName();
      const urlA = `${receiverA.url}/orders/a`;
      const urlB = `${receiverB.url}/orders/b?tenant=x`;
      await client.urlGroups.addEndpoints({
        name,
        endpoints: [{ url: urlA, name: 'a' }, { url: urlB }],
      });
      const body = { order: 42, note: 'héllo ✓' };

      const published = (await client.publishJSON({
        urlGroup: name,
        body,
        headers: { 'x-tenant-id': 'acme' },
      })) as unknown as Published[];

      expect(published).toEqual([
        { messageId: expect.stringMatching(/^msg_/), url: urlA },
        { messageId: expect.stringMatching(/^msg_/), url: urlB },
      ]);
      expect(published[0]!.messageId).not.toBe(published[1]!.messageId);
      for (const [receiver, message] of [
        [receiverA, published[0]!],
        [receiverB, published[1]!],
      ] as const) {
        const request = await expectDeliveredOnce(await receiver.waitForRequests(1), message, name);
        expect(request.body.toString('utf8')).toBe(JSON.stringify(body));
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['x-tenant-id']).toBe('acme');
      }
    });

    it('answers 404 naming an unknown group', async () => {
      const answer = await publishRaw(server.url, 'no-such-group', { body: 'x' });

      expect(answer).toMatchObject({
        status: 404,
        json: { error: 'URL group "no-such-group" not found' },
      });
    });

    it('deduplicates per endpoint: a repeat is a 202 naming the first messages, delivered once', async () => {
      const receiver = await startReceiver();
      const name = newGroupName();
      const urls = [`${receiver.url}/one`, `${receiver.url}/two`];
      await client.urlGroups.addEndpoints({ name, endpoints: urls.map((url) => ({ url })) });
      const publish = () =>
        publishRaw(server.url, name, {
          headers: { 'Upstash-Deduplication-Id': `dedup-${name}` },
          body: 'once',
        });

      const first = await publish();
      const second = await publish();

      expect(first.status).toBe(200);
      const firstMessages = first.json as Published[];
      expect(second).toMatchObject({
        status: 202,
        json: firstMessages.map((message) => ({ ...message, deduplicated: true })),
      });
      const requests = await receiver.waitForRequests(2);
      for (const message of firstMessages) await expectDeliveredOnce(requests, message, name);
      await expectNoMoreRequests(receiver, 2);
    });
  });

  describe('batch', () => {
    it('publishes a batchJSON mixing URL and group destinations, answering in order', async () => {
      const direct = await startReceiver();
      const member = await startReceiver();
      const name = newGroupName();
      const directUrl = `${direct.url}/direct?q=1`;
      const memberUrls = [`${member.url}/m1`, `${member.url}/m2`];
      await client.urlGroups.addEndpoints({ name, endpoints: memberUrls.map((url) => ({ url })) });

      const results = (await client.batchJSON([
        { url: directUrl, body: { kind: 'direct' }, headers: { 'x-kind': 'direct' } },
        { urlGroup: name, body: { kind: 'group' }, delay: 1 },
      ])) as unknown as [Published, Published[]];

      expect(results).toEqual([
        { messageId: expect.stringMatching(/^msg_/), url: directUrl },
        [
          { messageId: expect.stringMatching(/^msg_/), url: memberUrls[0] },
          { messageId: expect.stringMatching(/^msg_/), url: memberUrls[1] },
        ],
      ]);
      const directRequest = await expectDeliveredOnce(
        await direct.waitForRequests(1),
        results[0],
        undefined,
      );
      expect(directRequest.body.toString()).toBe('{"kind":"direct"}');
      expect(directRequest.headers['x-kind']).toBe('direct');
      const memberRequests = await member.waitForRequests(2);
      for (const message of results[1]) {
        const request = await expectDeliveredOnce(memberRequests, message, name);
        expect(request.body.toString()).toBe('{"kind":"group"}');
        // `delay: 1` reached the group's messages through the batch element's headers.
        expect(request.receivedAt - directRequest.receivedAt).toBeGreaterThanOrEqual(500);
      }
    });

    it('answers a bad element with an error in its slot and publishes the rest', async () => {
      const receiver = await startReceiver();
      const name = newGroupName();
      await client.urlGroups.addEndpoints({ name, endpoints: [{ url: `${receiver.url}/g` }] });

      const answer = await api(
        'POST',
        '/v2/batch',
        JSON.stringify([
          { destination: `${receiver.url}/first`, body: 'first', headers: null, queue: null },
          { destination: `${receiver.url}/bad`, headers: { 'Upstash-Retries': 'lots' } },
          { destination: 'not a destination' },
          { destination: name, body: 'group' },
          42,
        ]),
      );

      expect(answer.status).toBe(200);
      const [first, badHeader, badDestination, group, notObject] = answer.json as unknown[];
      expect(first).toEqual({
        messageId: expect.stringMatching(/^msg_/),
        url: `${receiver.url}/first`,
      });
      expect(badHeader).toEqual({
        error: expect.stringContaining('invalid Upstash-Retries "lots"'),
      });
      expect(badDestination).toEqual({
        error: expect.stringContaining('invalid destination "not a destination"'),
      });
      expect(group).toEqual([
        { messageId: expect.stringMatching(/^msg_/), url: `${receiver.url}/g` },
      ]);
      expect(notObject).toEqual({ error: expect.stringContaining('invalid batch message 42') });
      const requests = await receiver.waitForRequests(2);
      await expectDeliveredOnce(requests, first as Published, undefined);
      await expectDeliveredOnce(requests, (group as Published[])[0]!, name);
      await expectNoMoreRequests(receiver, 2);
    });

    it('refuses a body that is not a JSON array with a 400 saying an array is expected', async () => {
      const notArray = await api('POST', '/v2/batch', JSON.stringify({ destination: 'x' }));
      const malformed = await api('POST', '/v2/batch', '[{"destination": ');

      for (const answer of [notArray, malformed]) {
        expect(answer.status).toBe(400);
        expect(answer.json).toEqual({
          error: expect.stringContaining('expected a JSON array of messages'),
        });
      }
    });
  });
});
