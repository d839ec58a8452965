import { createIdGenerator } from '../../lambdas/core/ids';

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;

describe('createIdGenerator', () => {
  describe('messageId', () => {
    it('mints msg_ ids of base58 characters, all different', () => {
      const ids = createIdGenerator();
      const minted = Array.from({ length: 1_000 }, () => ids.messageId());

      for (const id of minted) {
        expect(id).toMatch(/^msg_/);
        expect(id.slice(4)).toMatch(BASE58);
        expect(id).toHaveLength(32);
      }
      expect(new Set(minted).size).toBe(minted.length);
    });

    it('increases strictly as strings, within one millisecond and across milliseconds', () => {
      let nowMs = 1_700_000_000_000;
      const ids = createIdGenerator(() => nowMs);
      const minted: string[] = [];
      for (let index = 0; index < 5_000; index += 1) {
        if (index % 1_000 === 0) nowMs += 1;
        minted.push(ids.messageId());
      }

      expect([...minted].sort()).toEqual(minted);
    });

    it('keeps increasing when the clock steps back', () => {
      let nowMs = 1_700_000_000_000;
      const ids = createIdGenerator(() => nowMs);
      const before = ids.messageId();
      nowMs -= 60_000;
      const after = ids.messageId();

      expect(after > before).toBe(true);
    });

    it('orders ids of different generators by the millisecond they were minted in', () => {
      const early = createIdGenerator(() => 1_700_000_000_000).messageId();
      const late = createIdGenerator(() => 1_700_000_000_001).messageId();

      expect(late > early).toBe(true);
    });

    it('moves on to the next millisecond once one millisecond has used every sequence number', () => {
      const ids = createIdGenerator(() => 1_700_000_000_000);
      const perMs = 58 ** 3;
      let previous = ids.messageId();
      for (let index = 1; index <= perMs; index += 1) {
        const next = ids.messageId();
        if (next <= previous) throw new Error(`${next} after ${previous}`);
        previous = next;
      }

      const nextMs = createIdGenerator(() => 1_700_000_000_001).messageId();
      expect(previous.slice(0, 4 + 12)).toBe(`${nextMs.slice(0, 4 + 9)}111`);
    });
  });

  it('mints DLQ ids as <ms>-<sequence within that ms>', () => {
    const ids = createIdGenerator();

    expect([ids.dlqId(5), ids.dlqId(5), ids.dlqId(6)]).toEqual(['5-0', '5-1', '6-0']);
  });
});
