/** A FIFO queue as `/v2/queues` shows it; `lag` counts its undelivered messages. */
export type Queue = {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly parallelism: number;
  readonly paused: boolean;
  readonly lag: number;
};

export type QueueSettings = { readonly parallelism: number; readonly paused: boolean };

/** Named FIFO queues; their messages are kept in order by the message store. */
export type QueueStore = {
  /** Creates or updates a queue; `settings` fields left undefined keep their value (or default). */
  upsertQueue(name: string, settings: Partial<QueueSettings>, nowMs: number): Promise<void>;
  /** Creates the queue with default settings if it does not exist; never changes one that does. */
  ensureQueue(name: string, nowMs: number): Promise<void>;
  getQueue(name: string): Promise<Queue | undefined>;
  listQueues(): Promise<Queue[]>;
  /** Deletes the queue and cancels its undelivered messages; false when it does not exist. */
  deleteQueue(name: string, nowMs: number): Promise<boolean>;
};
