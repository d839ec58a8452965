import type { AttemptSettlement, DeliveryQueue, MessageStore } from '../ports/message-store';
import type { DeliveryDeps } from './delivery';
import { attemptDelivery } from './delivery';
import type { Message } from './message';

export type ProcessDeliveryDeps = DeliveryDeps & {
  readonly store: MessageStore;
  readonly queue: DeliveryQueue;
};

/**
 * One attempt end to end, the same in every runtime: deliver, queue the callbacks it created,
 * then persist what followed in one step. A crash before the settlement is stored leaves
 * the message due again, so the attempt is repeated (at-least-once), never lost.
 */
export async function processDelivery(
  deps: ProcessDeliveryDeps,
  message: Message,
  retried: number,
  signal?: AbortSignal,
): Promise<AttemptSettlement> {
  const attempted = await attemptDelivery(deps, message, retried, signal);
  // Callbacks are queued before they are stored, as publishes are (see publishMessage): a
  // crash in between leaves a stray queue entry, never a stored callback nothing delivers. A
  // callback the store then drops (a cancel raced the attempt) is such a stray entry too.
  for (const callback of attempted.callbacks) {
    await deps.queue.enqueue(callback.messageId, callback.notBefore);
  }
  return deps.store.settleAttempt(attempted);
}
