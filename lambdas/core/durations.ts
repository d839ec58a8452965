import { BadRequestError } from './errors';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;
const DURATION_GROUPS = /^(?:\d+(?:\.\d+)?[dhms])+$/;
const DURATION_GROUP = /(\d+(?:\.\d+)?)([dhms])/g;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Parses QStash's duration grammar into milliseconds: one or more `<number><unit>` groups with
 * units `d`, `h`, `m`, `s` (`50s`, `3m`, `1d10h30m`, `1.5s` as the JS SDK sends for fractional
 * timeouts). Plain digits are taken as seconds, defensively, as QStash does.
 *
 * @param headerName named in the error so the caller knows which input was wrong.
 * @throws BadRequestError when the value does not fit the grammar.
 */
export function parseDurationMs(value: string, headerName: string): number {
  const trimmed = value.trim();
  if (PLAIN_SECONDS.test(trimmed)) return Math.round(Number(trimmed) * UNIT_MS.s);
  if (!DURATION_GROUPS.test(trimmed)) {
    throw new BadRequestError(
      `invalid ${headerName} "${value}": expected a duration such as 50s, 3m, 10h, 1d or 1d10h30m (units d, h, m, s)`,
    );
  }
  let totalMs = 0;
  for (const [, amount, unit] of trimmed.matchAll(DURATION_GROUP)) {
    totalMs += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Math.round(totalMs);
}
