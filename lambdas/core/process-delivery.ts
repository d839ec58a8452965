import type { AttemptSettlement, DeliveryQueue, MessageStore } from '../ports/message-store';
import type { DeliveryDeps } from './delivery';
import { attemptDelivery } from './delivery';
import type { Message } from './message';

export type ProcessDeliveryDeps = DeliveryDeps & {
  readonly store: MessageStore;
  readonly queue: DeliveryQueue;
};

/**
 * One attempt end to end, the same in every runtime: deliver, persist what followed in one
 * step, then queue the callbacks it created. A crash before the settlement is stored leaves
 * the message due again, so the attempt is repeated (at-least-once), never lost.
 */
export async function processDelivery(
  deps: ProcessDeliveryDeps,
  message: Message,
  retried: number,
  signal?: AbortSignal,
): Promise<AttemptSettlement> {
  const attempted = await attemptDelivery(deps, message, retried, signal);
  // The store may have applied a cancel that raced the attempt: queue what it actually stored.
  const settlement = await deps.store.settleAttempt(attempted);
  for (const callback of settlement.callbacks)
    await deps.queue.enqueue(callback.messageId, callback.notBefore);
  return settlement;
}
