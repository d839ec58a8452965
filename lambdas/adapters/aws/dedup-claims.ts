/**
 * Dedup claims: `DEDUP#<key>` / `DEDUP`, holding the message id that published under the key,
 * until `expiresAt` (the dedup window; `ttl` lets DynamoDB delete it some time after). A publish
 * claims its key before anything is enqueued, so a duplicate leaves nothing behind:
 *
 * ```
 * claim (conditional put)   the message is sent/recorded   confirm (sent = true)
 * |--------- provisional: a duplicate is told "deduplicated" ---------|--- holds until expiresAt ---|
 * ```
 *
 * The claim is a conditional put: `attribute_not_exists(pk) OR expiresAt <= :now` (TTL deletes
 * lazily, up to about two days late, so the stored expiry is what counts), or a provisional claim
 * older than `provisionalMs`: its publish died between the claim and the confirm (a function
 * killed mid-way), so no message holds the key and the next publish takes it over. A publish
 * that fails to enqueue gives its claim back.
 *
 * Keys longer than a partition key allows (2048 bytes) are hashed.
 */
import { createHash } from 'node:crypto';
import type { DedupClaim } from '../../ports/message-store';
import {
  ConditionFailedError,
  type DynamoCalls,
  DynamoStoreError,
  RACE_ATTEMPTS,
} from './dynamo-calls';
import { ExpressionBuilder } from './dynamo-expressions';
import { TABLE, ttlOf } from './table';

const MAX_DEDUP_KEY_BYTES = 1_024;

/** A claim's outcome: taken, or held by the message `holder`. */
export type ClaimResult = { readonly claimed: true } | { readonly claimed: false; holder: string };

export type DedupClaimsOptions = {
  /** The sort key, so that publishes and schedule creations deduplicate apart. */
  readonly scope: 'DEDUP' | 'SCHEDULE';
  /** The attribute naming the holder. */
  readonly holderAttribute: 'messageId' | 'scheduleId';
  /**
   * How long a claim may stay provisional before it is taken for abandoned: longer than the
   * function that claims can run.
   */
  readonly provisionalMs: number;
};

/** The dedup key as stored: long keys are hashed to fit a partition key. */
export function storedDedupKey(dedupKey: string): string {
  if (Buffer.byteLength(dedupKey) <= MAX_DEDUP_KEY_BYTES) return dedupKey;
  return `sha256:${createHash('sha256').update(dedupKey).digest('base64url')}`;
}

export class DedupClaims {
  readonly #calls: DynamoCalls;
  readonly #options: DedupClaimsOptions;

  constructor(calls: DynamoCalls, options: DedupClaimsOptions) {
    this.#calls = calls;
    this.#options = options;
  }

  /** The claim's key. */
  key(claim: DedupClaim): { pk: string; sk: string } {
    return { pk: `DEDUP#${storedDedupKey(claim.key)}`, sk: this.#options.scope };
  }

  /** Takes the key for `holder`, provisionally, unless an unexpired claim holds it. */
  async claim(claim: DedupClaim, holder: string, nowMs: number): Promise<ClaimResult> {
    const key = this.key(claim);
    const holderAttribute = this.#options.holderAttribute;
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt += 1) {
      const b = new ExpressionBuilder();
      const pk = b.name(TABLE.partitionKey);
      const expiresAt = b.name('expiresAt');
      const now = b.value(nowMs);
      try {
        await this.#calls.put(
          {
            ...key,
            [holderAttribute]: holder,
            expiresAt: claim.expiresAt,
            claimedAt: nowMs,
            [TABLE.ttlAttribute]: ttlOf(claim.expiresAt),
          },
          {
            ConditionExpression: `attribute_not_exists(${pk}) OR ${expiresAt} <= ${now} OR (attribute_not_exists(${b.name('sent')}) AND ${b.name('claimedAt')} <= ${b.value(nowMs - this.#options.provisionalMs)})`,
            ...b.parts(),
          },
        );
        return { claimed: true };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
      const existing = await this.#calls.get(key);
      // Undefined: the claim went away in between (deleted by TTL or given back); try again.
      if (existing !== undefined)
        return { claimed: false, holder: existing[holderAttribute] as string };
    }
    throw new DynamoStoreError(`the dedup key of ${holder} kept changing hands`);
  }

  /** Ends the claim's provisional time: its message was handed over. */
  async confirm(claim: DedupClaim, holder: string): Promise<void> {
    const b = new ExpressionBuilder();
    try {
      await this.#calls.update(this.key(claim), {
        UpdateExpression: `SET ${b.name('sent')} = ${b.value(true)}`,
        ConditionExpression: `${b.name(this.#options.holderAttribute)} = ${b.value(holder)}`,
        ...b.parts(),
      });
    } catch (error) {
      // Taken over meanwhile (only after provisionalMs): the other publish holds the key now.
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  /** Gives a provisional claim back (its message could not be handed over). */
  async release(claim: DedupClaim, holder: string): Promise<void> {
    const b = new ExpressionBuilder();
    try {
      await this.#calls.delete(this.key(claim), {
        ConditionExpression: `${b.name(this.#options.holderAttribute)} = ${b.value(holder)} AND attribute_not_exists(${b.name('sent')})`,
        ...b.parts(),
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
}
