import { DeliveryWorker } from '../../lambdas/embedded/delivery-worker';
import type { Logger } from '../../lambdas/ports/logger';
import { makeSqliteStores } from '../contract/sqlite-stores';
import { makeMessage } from '../helpers/messages';

describe('DeliveryWorker', () => {
  it('keeps delivering when the store cannot release a failed attempt (SQLITE_BUSY): the lease runs out instead of the process crashing', async () => {
    const stores = await makeSqliteStores();
    const now = Date.now();
    for (const messageId of ['msg_fault', 'msg_ok']) {
      await stores.messages.insertMessage(
        makeMessage({ messageId, notBefore: now, createdAt: now }),
        undefined,
        now,
      );
    }
    stores.messages.release = () => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    };
    const errors: string[] = [];
    const logger = {
      error: (message: string) => errors.push(message),
      warn: () => {},
      info: () => {},
      debug: () => {},
    } as unknown as Logger;
    const delivered: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const worker = new DeliveryWorker({
      store: stores.messages,
      commit: async (write) => write(),
      clock: { now: () => Date.now() },
      logger,
      concurrency: 4,
      leaseMs: 60_000,
      deliver: async (message) => {
        if (message.messageId === 'msg_fault') throw new Error('the store went away mid-attempt');
        delivered.push(message.messageId);
      },
    });
    try {
      worker.start();
      const deadline = Date.now() + 5_000;
      while (errors.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setImmediate(resolve));

      expect(delivered).toEqual(['msg_ok']);
      expect(errors).toEqual([
        'delivery attempt could not be completed; it will be retried',
        'could not release a delivery attempt; its lease will expire',
      ]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await worker.stop(1_000);
      await stores.cleanup();
    }
  });
});
