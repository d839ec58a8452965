import { UndiciDeliveryClient } from '../../../lambdas/adapters/http/undici-delivery-client';
import { DeliveryAttemptError } from '../../../lambdas/ports/delivery-client';
import type { RawServer } from '../../helpers/misbehaving-servers';
import { startHangingServer } from '../../helpers/misbehaving-servers';
import { TestReceiver } from '../../helpers/receiver';

// What the Lambda bundles do with an esbuild alias (lib/constructs/sqstash-function.ts): every
// import of undici gets the slim module instead.
jest.mock('undici', () => jest.requireActual('../../../lambdas/aws/undici-lite.cjs'));

describe('undici-lite: the delivery client over the slim undici of the Lambda bundles', () => {
  let receiver: TestReceiver;
  let hanging: RawServer;
  let client: UndiciDeliveryClient;

  beforeAll(async () => {
    receiver = await TestReceiver.start();
    hanging = await startHangingServer();
    client = new UndiciDeliveryClient({
      maxResponseBodyBytes: 1024,
      addressPolicy: { allowLoopback: true, allowPrivate: true },
    });
  });
  afterAll(async () => {
    await client.close();
    await receiver.stop();
    await hanging.stop();
  });

  it('is the module the client got', () => {
    expect(jest.requireMock<Record<string, unknown>>('undici')).toBe(
      jest.requireActual('../../../lambdas/aws/undici-lite.cjs'),
    );
  });

  it('sends the method, path, query, headers and body, and reads the answer', async () => {
    receiver.respondWith(() => ({ status: 201, body: 'made', headers: { 'x-answer': 'yes' } }));

    const response = await client.send({
      url: `${receiver.url}/hooks/a?tenant=1`,
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'x-tenant': '1' },
      body: new TextEncoder().encode('payload'),
      timeoutMs: 5_000,
    });

    const [request] = receiver.requests.slice(-1);
    expect(request).toMatchObject({ method: 'PUT', path: '/hooks/a?tenant=1' });
    expect(request!.headers['x-tenant']).toBe('1');
    expect(request!.body.toString()).toBe('payload');
    expect(response.status).toBe(201);
    expect(Buffer.from(response.body).toString()).toBe('made');
    expect(response.headers['x-answer']).toEqual(['yes']);
  });

  it('times an attempt out with the same error as undici itself', async () => {
    await expect(
      client.send({
        url: `${hanging.url}/slow`,
        method: 'POST',
        headers: {},
        body: new Uint8Array(),
        timeoutMs: 100,
      }),
    ).rejects.toThrow(DeliveryAttemptError);
  });
});
