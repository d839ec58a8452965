import type { DynamoMessageStore } from '../adapters/aws/dynamo-message-store';
import type { AttemptSettlement, MessageStore } from '../ports/message-store';

type Waiting = {
  readonly settlement: AttemptSettlement;
  readonly resolve: (applied: AttemptSettlement | undefined) => void;
  readonly reject: (error: unknown) => void;
};

/**
 * The settlements of one delivery invocation, written together: what they send goes in shared
 * `SendMessageBatch` calls and one event-index item covers them all (settleAttempts). A
 * settlement waits until every attempt under way has settled, or `lingerMs` after it arrived,
 * whichever is first, so a slow destination holds the others back by at most that long (the
 * event log's watermark allows for it).
 */
export class SettlementBatch implements Pick<MessageStore, 'settleAttempt'> {
  readonly #store: Pick<DynamoMessageStore, 'settleAttempts'>;
  readonly #lingerMs: number;
  #underWay = 0;
  #waiting: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Pick<DynamoMessageStore, 'settleAttempts'>, lingerMs: number) {
    this.#store = store;
    this.#lingerMs = lingerMs;
  }

  /** An attempt started: its settlement is waited for. */
  begin(): void {
    this.#underWay += 1;
  }

  /** An attempt ended without a settlement (it threw): it is no longer waited for. */
  abandon(): void {
    this.#underWay -= 1;
    this.#flushIfComplete();
  }

  settleAttempt(settlement: AttemptSettlement): Promise<AttemptSettlement | undefined> {
    return new Promise((resolve, reject) => {
      this.#underWay -= 1;
      this.#waiting.push({ settlement, resolve, reject });
      this.#timer ??= setTimeout(() => this.#flush(), this.#lingerMs);
      this.#flushIfComplete();
    });
  }

  #flushIfComplete(): void {
    if (this.#underWay === 0 && this.#waiting.length > 0) this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    if (waiting.length === 0) return;
    this.#store.settleAttempts(waiting.map(({ settlement }) => settlement)).then(
      (applied) => {
        for (const [index, { resolve }] of waiting.entries()) resolve(applied[index]);
      },
      (error: unknown) => {
        for (const { reject } of waiting) reject(error);
      },
    );
  }
}
