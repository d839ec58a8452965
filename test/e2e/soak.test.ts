import { runSoak } from '../../bench/soak';
import type { TestServer } from '../helpers/embedded-server';
import { DEV_TOKEN, startTestServer, stopTestServer } from '../helpers/embedded-server';

const MESSAGES = 2_000;

describe('bounded soak (bench/soak.ts in small): a sink failing 20% of attempts', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await stopTestServer(server);
  });

  it('ends with every message delivered or dead-lettered, none missing, none twice', async () => {
    const result = await runSoak({
      baseUrl: server.url,
      token: DEV_TOKEN,
      messages: MESSAGES,
      failRate: 0.2,
      retries: 3,
      timeoutMs: 30_000,
    });

    expect(result).toMatchObject({
      acknowledged: MESSAGES,
      missing: 0,
      duplicates: 0,
      deliveredAndDeadLettered: 0,
      timedOut: false,
    });
    expect(result.delivered + result.deadLettered).toBe(MESSAGES);
    expect(result.deadLettersListed).toBe(result.deadLettered);
    // 20% of attempts fail, so about 1.25 attempts per message.
    expect(result.attempts / MESSAGES).toBeGreaterThan(1.1);
    expect(result.attempts / MESSAGES).toBeLessThan(1.4);
  }, 60_000);
});
