/**
 * The one DynamoDB table every AWS adapter shares. The CDK stack creates it from these names,
 * so the adapters and the infrastructure cannot disagree. It has no secondary index: every
 * listing reads items keyed for it, so no write pays for an index it does not need.
 *
 * Each item type has one module that writes and reads it:
 *
 * | item | pk | sk | module |
 * |---|---|---|---|
 * | recorded message | `MSG#<id>` | `MSG` | message-partition.ts |
 * | outcome of attempt n (or a cancel mark) | `MSG#<id>` | `LOG#<n>` | message-partition.ts |
 * | which wake sent attempt n | `MSG#<id>` | `WAKE#<n>` | message-partition.ts |
 * | a payload too large for its item | the item's pk | `<item sk>#P<nnn>` | dynamo-payloads.ts |
 * | dedup claim | `DEDUP#<key>` | `DEDUP` (a schedule's: `SCHEDULE`) | dedup-claims.ts |
 * | commit of a publish of several messages | `PUB#<id>` | `PUB` | dynamo-message-store.ts |
 * | event index (per batch of writes) | `EVT#<UTC hour>#<shard>` | `<time>#<writer>` | dynamo-event-log.ts |
 * | pending index (for filter cancels) | `PEND#<shard>` | `<createdAt>#<id>` | pending-index.ts |
 * | dead letter | `DLQ#<dlqId>` | `DLQ` | dynamo-dead-letter-store.ts |
 * | dead-letter index | `DLQX#<UTC hour>#<shard>` | `<failedAt>#<dlqId>` | dynamo-dead-letter-store.ts |
 * | hours an index holds | `DIR#EVT`, `DIR#DLQX`, `DIR#WFRX` | `<UTC hour>` | time-index.ts |
 * | FIFO queue, its state, its waiting messages | `QUEUES`; `QUEUE#<name>` | `<name>`; `STATE`, `POS#<seq>` | dynamo-queue-store.ts |
 * | flow-control key, its state, its waitlist | `FLOWKEYS`; `FLOW#<key>` | `<key>`; `STATE`, `W#<seq>` | dynamo-flow-control.ts |
 * | a flow-controlled message's due time | `FLOWDUE#<key>` | `<messageId>` | dynamo-flow-control.ts |
 * | global flow-control parallelism | `FLOWGLOBAL` | `STATE` | dynamo-flow-control.ts |
 * | schedule, its body parts | `SCHEDULES`; `SCHEDULE#<id>` | `<scheduleId>`; `PART#<version>#<nnn>` | dynamo-schedule-store.ts |
 * | URL group | `URLGROUP` | `GROUP#<name>` | dynamo-url-group-store.ts |
 * | workflow run, its messages, steps | `WFR#<runId>` | `RUN`, `MSG#<id>`, `STEP#<seq>` | dynamo-workflow-run-store.ts |
 * | a workflow run's waits, kept notifications | `WFR#<runId>` | `WAIT#<id>`, `NOTE#...` | dynamo-workflow-waits.ts |
 * | workflow waiter, its index by event | `WAITER#<id>`; `WAITEV#<eventId>#<shard>` | `WAITER`; `<createdAt>#<id>` | dynamo-workflow-waits.ts |
 * | workflow run index | `WFRX#<UTC hour>#<shard>` | `<createdAt>#<runId>` | dynamo-workflow-run-store.ts |
 *
 * `ttl` is epoch SECONDS after which DynamoDB may delete the item: every message record, log
 * item, index item and dead letter carries one (`sqstash:retention` after it stops mattering),
 * dedup claims their window's end. Deletion is lazy (up to ~48 h), so a read that cares (dedup)
 * compares the expiry itself.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
} as const;

const MS_PER_SECOND = 1_000;

/** The `ttl` attribute's value for an item that may be deleted after `expiresAtMs`. */
export function ttlOf(expiresAtMs: number): number {
  return Math.ceil(expiresAtMs / MS_PER_SECOND);
}
