import { handler as deadLetterHandler } from '../../lambdas/aws/handlers/dead-letter';
import { handler as deliveryHandler } from '../../lambdas/aws/handlers/delivery';
import type { Dynalite } from '../helpers/dynalite';
import { FakeSqs } from '../helpers/fake-sqs';
import {
  callApi as api,
  awsMocks,
  lambdaContext as context,
  startLambdaEnvironment,
} from '../helpers/lambda-harness';
import { concurrencyProbe, TestReceiver } from '../helpers/receiver';

const GLOBAL_PARALLELISM = 3;

/**
 * The operator's global parallelism on AWS: one shared item counts flow-controlled attempts in
 * flight over every key; a key held back by it waits out of SQS until an attempt of any key ends.
 */
describe('global flow-control parallelism on AWS, in-process', () => {
  let dynalite: Dynalite;
  let receiver: TestReceiver;
  let queue: FakeSqs;

  beforeAll(async () => {
    dynalite = await startLambdaEnvironment('sqstash-flow-control-global');
    // Read by the functions' first invocation, as the stack sets it.
    process.env.SQSTASH_FLOW_CONTROL_GLOBAL_PARALLELISM = String(GLOBAL_PARALLELISM);
    receiver = await TestReceiver.start();
    awsMocks.sqs.reset();
    queue = new FakeSqs(awsMocks.sqs).install();
  });
  afterAll(async () => {
    await receiver.stop();
    await dynalite.close();
  });

  it(`keeps ${GLOBAL_PARALLELISM} attempts in flight at most over two keys of parallelism 5`, async () => {
    const { probe, responder } = concurrencyProbe(150);
    receiver.respondWith(responder);
    for (let n = 0; n < 16; n += 1) {
      const response = await api('POST', `/v2/publish/${receiver.url}/global/${n}`, {
        headers: {
          'upstash-flow-control-key': n % 2 === 0 ? 'tenant-a' : 'tenant-b',
          'upstash-flow-control-value': 'parallelism=5',
        },
      });
      expect(response.status).toBe(200);
    }

    await queue.drain({
      delivery: deliveryHandler,
      deadLetter: deadLetterHandler,
      context,
      until: () => receiver.requests.length === 16,
      timeoutMs: 40_000,
      concurrency: 4,
    });
    await queue.drain({ delivery: deliveryHandler, deadLetter: deadLetterHandler, context });

    expect(probe.max).toBe(GLOBAL_PARALLELISM);
    expect((await api('GET', '/v2/globalParallelism')).json).toEqual({
      parallelismMax: GLOBAL_PARALLELISM,
      parallelismCount: 0,
    });
    expect(Math.max(...queue.receives.values())).toBeLessThanOrEqual(2);
    expect(queue.queues['dead-letter']).toEqual([]);
  }, 60_000);
});
