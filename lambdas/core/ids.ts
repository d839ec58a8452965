import { randomFillSync } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE = ALPHABET.length;
const RANDOM_CHARS = 22;
/** Base58 digits of the millisecond a message id was minted in: 58^9 ms reach past year 200,000. */
const TIME_CHARS = 9;
/** Base58 digits of an id's place within its millisecond: 58^3 = 195,112 ids per ms. */
const SEQUENCE_CHARS = 3;
const SEQUENCES_PER_MS = BASE ** SEQUENCE_CHARS;
/** The unguessable rest of a message id: 16 base58 characters, about 93 bits. */
const MESSAGE_RANDOM_CHARS = 16;
/** Random bytes are drawn from the OS this many at a time rather than once per id. */
const RANDOM_POOL_BYTES = 4096;

const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;

/** Base58 like QStash's ids: unambiguous, URL-safe. */
function randomBase58(length: number): string {
  if (randomOffset + length > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  let out = '';
  // 58 does not divide 256, so a slight bias remains; ids need uniqueness, not uniformity.
  for (let index = 0; index < length; index += 1) {
    out += ALPHABET[randomPool[randomOffset + index]! % BASE];
  }
  randomOffset += length;
  return out;
}

/**
 * `value` in base58, zero-padded to `width` digits. The alphabet is in ASCII order, so equal
 * widths compare as strings the way the numbers compare.
 */
function fixedBase58(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let index = 0; index < width; index += 1) {
    out = ALPHABET[rest % BASE] + out;
    rest = Math.floor(rest / BASE);
  }
  return out;
}

/** Mints the ids QStash clients see; injectable so tests can predict them. */
export type IdGenerator = {
  /**
   * `msg_…`: time-ordered (k-sortable). Ids minted by one generator increase strictly, as
   * strings, so a store keyed by id appends instead of writing all over its index; the time of
   * creation they reveal is what `/v2/events` shows anyway.
   */
  messageId(): string;
  /** `scd_…`, for a schedule created without `Upstash-Schedule-Id`. */
  scheduleId(): string;
  dlqId(nowMs: number): string;
  jwtId(): string;
};

export function createIdGenerator(now: () => number = Date.now): IdGenerator {
  let lastMessageMs = 0;
  let messageSequence = 0;
  let lastDlqMs = 0;
  let dlqSequence = 0;
  return {
    messageId: () => {
      // A clock that steps back (or a burst past the per-ms capacity) borrows from the last
      // millisecond used, so the ids keep increasing.
      const ms = now();
      if (ms > lastMessageMs) {
        lastMessageMs = ms;
        messageSequence = 0;
      } else if (++messageSequence === SEQUENCES_PER_MS) {
        lastMessageMs += 1;
        messageSequence = 0;
      }
      return `msg_${fixedBase58(lastMessageMs, TIME_CHARS)}${fixedBase58(messageSequence, SEQUENCE_CHARS)}${randomBase58(MESSAGE_RANDOM_CHARS)}`;
    },
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
