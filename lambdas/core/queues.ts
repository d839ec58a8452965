import type { Queue, QueueSettings, QueueStore } from '../ports/queue-store';
import { BadRequestError, NotFoundError } from './errors';

const QUEUE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
/** Most attempts a queue may have in flight at once. */
export const MAX_QUEUE_PARALLELISM = 100;

/** Queue names follow QStash's rule: letters, digits, `-`, `_` and `.`. */
export function validateQueueName(name: string): string {
  if (!QUEUE_NAME.test(name)) {
    throw new BadRequestError(
      `invalid queue name "${name}": use 1 to 128 letters, digits, "-", "_" or "."`,
    );
  }
  return name;
}

/** Reads `POST /v2/queues`'s body: `{"queueName", "parallelism"?, "paused"?}`. */
export function parseQueueUpsert(body: unknown): {
  name: string;
  settings: Partial<QueueSettings>;
} {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError(
      'expected a JSON object {"queueName": "...", "parallelism": 1, "paused": false}',
    );
  }
  const { queueName, parallelism, paused } = body as Record<string, unknown>;
  if (typeof queueName !== 'string')
    throw new BadRequestError('"queueName" is required and must be a string');
  const settings: { parallelism?: number; paused?: boolean } = {};
  if (parallelism !== undefined && parallelism !== null) {
    if (
      !Number.isInteger(parallelism) ||
      (parallelism as number) < 1 ||
      (parallelism as number) > MAX_QUEUE_PARALLELISM
    ) {
      throw new BadRequestError(
        `invalid "parallelism" ${JSON.stringify(parallelism)}: expected a whole number from 1 to ${MAX_QUEUE_PARALLELISM}`,
      );
    }
    settings.parallelism = parallelism as number;
  }
  if (paused !== undefined && paused !== null) {
    if (typeof paused !== 'boolean')
      throw new BadRequestError(
        `invalid "paused" ${JSON.stringify(paused)}: expected true or false`,
      );
    settings.paused = paused;
  }
  return { name: validateQueueName(queueName), settings };
}

export async function requireQueue(queues: QueueStore, name: string): Promise<Queue> {
  const queue = await queues.getQueue(name);
  if (!queue) throw new NotFoundError(`queue "${name}" not found`);
  return queue;
}
