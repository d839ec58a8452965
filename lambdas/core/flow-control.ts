import { parseDurationMs } from './durations';
import { BadRequestError } from './errors';

/**
 * A message's flow control (qstash-api.md §2.3): the key whose limits it counts against, and the
 * limits it was published with. Each message keeps its own; the key's limits are worked out from
 * all of its pending messages' (core/flow-control-limits.ts).
 */
export type FlowControl = {
  readonly key: string;
  /** Most attempts of the key in flight at once. */
  readonly parallelism?: number;
  /** Most attempts of the key started in any `periodSec` seconds. */
  readonly rate?: number;
  /** The rate's period in seconds: 1 unless given; set whenever `rate` or `period` is. */
  readonly periodSec?: number;
};

const SECOND_MS = 1_000;
export const DEFAULT_RATE_PERIOD_SEC = 1;
/** QStash's longest rate period: one week. */
export const MAX_RATE_PERIOD_SEC = 7 * 86_400;
export const MAX_FLOW_CONTROL_PARALLELISM = 100_000;
export const MAX_FLOW_CONTROL_RATE = 1_000_000;
const MAX_KEY_LENGTH = 256;
/** Printable ASCII but `/`, `?`, `#`, `%` and `,`: a key goes raw into `/v2/flowControl/{key}`. */
const KEY = /^[!"$&'()*+\-.0-9:;<=>@A-Z[\\\]^_`a-z{|}~]+$/;
const WHOLE_NUMBER = /^\d+$/;
const VALUE_PART = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/;

/** A flow-control key as a header or a path gives it; `what` names the input in the error. */
export function validateFlowControlKey(key: string, what: string): string {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
    throw new BadRequestError(
      `invalid ${what} "${key}": use 1 to ${MAX_KEY_LENGTH} printable ASCII characters, without spaces, "/", "?", "#", "%" or ","`,
    );
  }
  return key;
}

/**
 * Reads `<prefix>-Flow-Control-Key` and `<prefix>-Flow-Control-Value` (`parallelism=2, rate=10,
 * period=1m`, with or without spaces, names in any case). Both or neither must be given, and the
 * value needs `parallelism` or `rate`: a limit that was meant and not understood is refused.
 *
 * @param prefix the header family, `Upstash` or `Upstash-Callback` or `Upstash-Failure-Callback`.
 */
export function parseFlowControl(
  key: string | undefined,
  value: string | undefined,
  prefix: string,
): FlowControl | undefined {
  const keyHeader = `${prefix}-Flow-Control-Key`;
  const valueHeader = `${prefix}-Flow-Control-Value`;
  if (key === undefined && value === undefined) return undefined;
  if (key === undefined) throw new BadRequestError(`${valueHeader} needs ${keyHeader} to be set`);
  if (value === undefined) {
    throw new BadRequestError(
      `${keyHeader} needs ${valueHeader}, such as "parallelism=2" or "rate=10, period=1m"`,
    );
  }
  const fields: { parallelism?: number; rate?: number; periodSec?: number } = {};
  for (const part of value.split(',')) {
    const match = VALUE_PART.exec(part);
    const name = match?.[1]?.toLowerCase();
    if (!match || (name !== 'parallelism' && name !== 'rate' && name !== 'period')) {
      throw new BadRequestError(
        `invalid ${valueHeader} "${value}": expected comma-separated parallelism=<n>, rate=<n> and period=<duration>, such as "parallelism=2, rate=10, period=1m"`,
      );
    }
    const field = name === 'period' ? 'periodSec' : name;
    if (fields[field] !== undefined) {
      throw new BadRequestError(`invalid ${valueHeader} "${value}": ${name} is given twice`);
    }
    const raw = match[2]!;
    fields[field] =
      name === 'period'
        ? parsePeriodSec(raw, `${valueHeader} period`)
        : parseLimit(
            raw,
            `${valueHeader} ${name}`,
            name === 'rate' ? MAX_FLOW_CONTROL_RATE : MAX_FLOW_CONTROL_PARALLELISM,
          );
  }
  if (fields.parallelism === undefined && fields.rate === undefined) {
    throw new BadRequestError(
      `invalid ${valueHeader} "${value}": give parallelism=<n>, rate=<n>, or both`,
    );
  }
  return {
    key: validateFlowControlKey(key.trim(), keyHeader),
    ...(fields.parallelism !== undefined && { parallelism: fields.parallelism }),
    ...(fields.rate !== undefined && { rate: fields.rate }),
    ...((fields.rate !== undefined || fields.periodSec !== undefined) && {
      periodSec: fields.periodSec ?? DEFAULT_RATE_PERIOD_SEC,
    }),
  };
}

/** A parallelism or rate: a whole number from 1 to `max`. */
export function parseLimit(value: string, what: string, max: number): number {
  const trimmed = value.trim();
  const number = Number(trimmed);
  if (!WHOLE_NUMBER.test(trimmed) || number < 1 || number > max) {
    throw new BadRequestError(
      `invalid ${what} "${value}": expected a whole number from 1 to ${max}`,
    );
  }
  return number;
}

/** A rate period: a duration (`10s`, `1m`, `1d`, or plain seconds), whole seconds, 1s to 7d. */
export function parsePeriodSec(value: string, what: string): number {
  const periodMs = parseDurationMs(value, what);
  if (
    periodMs % SECOND_MS !== 0 ||
    periodMs < SECOND_MS ||
    periodMs > MAX_RATE_PERIOD_SEC * SECOND_MS
  ) {
    throw new BadRequestError(
      `invalid ${what} "${value}": expected whole seconds from 1s to ${MAX_RATE_PERIOD_SEC / 86_400}d, such as 1s, 30s, 1m, 1h or 1d`,
    );
  }
  return periodMs / SECOND_MS;
}
