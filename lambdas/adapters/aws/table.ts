/**
 * The one DynamoDB table every AWS adapter shares, and its indexes. The CDK stack creates it
 * from these names, so the adapters and the infrastructure cannot disagree.
 *
 * Key design (each adapter documents its own item types in its file):
 * - `pk`/`sk`: the item's identity, e.g. `MSG#<messageId>` / `MSG`.
 * - `gsi1pk`/`gsi1sk` and `gsi2pk`/`gsi2sk`: sparse, general-purpose indexes for listings
 *   (events and dead letters by time, a queue's open messages in FIFO order, ...). A listing
 *   across all messages must not put every write on one partition key: shard it (by time
 *   bucket, or a hash suffix) and merge on read.
 * - `ttl`: epoch SECONDS after which DynamoDB may delete the item. Deletion is lazy (up to ~48 h),
 *   so every read that cares (dedup, retention) compares the expiry itself.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  gsi2: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
} as const;
