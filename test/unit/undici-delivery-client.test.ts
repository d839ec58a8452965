import { getEventListeners } from 'node:events';
import { UndiciDeliveryClient } from '../../lambdas/adapters/http/undici-delivery-client';
import { AttemptAbortedError, DeliveryAttemptError } from '../../lambdas/ports/delivery-client';
import type { RawServer } from '../helpers/misbehaving-servers';
import { startHangingServer } from '../helpers/misbehaving-servers';
import { TestReceiver } from '../helpers/receiver';

describe('UndiciDeliveryClient: timeouts and the shutdown signal', () => {
  let receiver: TestReceiver;
  let hanging: RawServer;
  let client: UndiciDeliveryClient;
  const send = (url: string, signal?: AbortSignal, timeoutMs = 2_000) =>
    client.send({ url, method: 'POST', headers: {}, body: new Uint8Array(), timeoutMs, signal });

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

  it('leaves nothing attached to the long-lived shutdown signal once an attempt is over', async () => {
    // Prepare: the runtime passes one signal to every attempt for as long as it runs.
    const shutdown = new AbortController();

    // Act
    for (let i = 0; i < 20; i += 1) await send(`${receiver.url}/ok`, shutdown.signal);
    await expect(send(`${hanging.url}/slow`, shutdown.signal, 100)).rejects.toThrow(
      DeliveryAttemptError,
    );

    // Assess
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('tells a timeout from a shutdown', async () => {
    const shutdown = new AbortController();

    const timedOut = send(`${hanging.url}/a`, shutdown.signal, 100);
    const aborted = send(`${hanging.url}/b`, shutdown.signal, 5_000);
    setTimeout(() => shutdown.abort(), 200);

    await expect(timedOut).rejects.toBeInstanceOf(DeliveryAttemptError);
    await expect(timedOut).rejects.toThrow('timed out after 100ms (Upstash-Timeout)');
    await expect(aborted).rejects.toBeInstanceOf(AttemptAbortedError);
  });
});
