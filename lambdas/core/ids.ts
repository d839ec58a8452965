import { randomBytes } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const RANDOM_CHARS = 22;

/** Base58 like QStash's ids: unambiguous, URL-safe, ~128 bits of randomness. */
function randomBase58(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  // 58 does not divide 256, so a slight bias remains; ids need uniqueness, not uniformity.
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/** Mints the ids QStash clients see; injectable so tests can predict them. */
export type IdGenerator = {
  messageId(): string;
  /** `scd_…`, for a schedule created without `Upstash-Schedule-Id`. */
  scheduleId(): string;
  dlqId(nowMs: number): string;
  jwtId(): string;
};

export function createIdGenerator(): IdGenerator {
  let lastDlqMs = 0;
  let dlqSequence = 0;
  return {
    messageId: () => `msg_${randomBase58(RANDOM_CHARS)}`,
    scheduleId: () => `scd_${randomBase58(RANDOM_CHARS)}`,
    // QStash's DLQ ids look like Redis stream ids: `<ms>-<sequence within that ms>`.
    dlqId: (nowMs) => {
      dlqSequence = nowMs === lastDlqMs ? dlqSequence + 1 : 0;
      lastDlqMs = nowMs;
      return `${nowMs}-${dlqSequence}`;
    },
    jwtId: () => `jwt_${randomBase58(RANDOM_CHARS)}`,
  };
}
