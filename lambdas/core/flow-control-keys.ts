import type { Clock } from '../ports/clock';
import type { FlowControlKeyRecord, FlowControlStore } from '../ports/flow-control-store';
import type { CoreConfig } from './config';
import { BadRequestError, NotFoundError } from './errors';
import type { FlowControlSettings, RateLimit } from './flow-control-limits';
import {
  countedStarts,
  effectiveLimits,
  isDefaultSettings,
  settleCarriedValues,
} from './flow-control-limits';

/**
 * The flow-control management API (qstash-api.md §6.7): read keys, pause and resume them, pin
 * and unpin their configuration, reset their rate, read the global parallelism.
 */

const SECOND_MS = 1_000;

export type FlowControlDeps = {
  readonly flowControl: FlowControlStore;
  readonly clock: Clock;
  readonly config: CoreConfig;
};

/** A key as `GET /v2/flowControl/{key}` answers, with the fields the SDKs parse; 0 means unlimited. */
export type FlowControlInfo = {
  readonly flowControlKey: string;
  readonly waitListSize: number;
  readonly parallelismMax: number;
  readonly parallelismCount: number;
  readonly rateMax: number;
  readonly rateCount: number;
  /** Seconds. */
  readonly ratePeriod: number;
  /** Unix seconds: when the oldest start the rate still counts was made (now when none is). */
  readonly ratePeriodStart: number;
  readonly isPaused: boolean;
  readonly isPinnedParallelism: boolean;
  readonly isPinnedRate: boolean;
};

/** What `POST /v2/flowControl/{key}/pin` asks for; absent fields keep their value. */
export type PinRequest = {
  readonly parallelism?: number;
  readonly rate?: number;
  readonly periodSec?: number;
};

/** What `POST /v2/flowControl/{key}/unpin` releases. */
export type UnpinRequest = { readonly parallelism: boolean; readonly rate: boolean };

export function flowControlInfo(record: FlowControlKeyRecord, nowMs: number): FlowControlInfo {
  const settings = settleCarriedValues(record.settings, record.configurations);
  const limits = effectiveLimits(settings, record.configurations);
  // With nothing pending, the rate its recent starts were counted against.
  const rate = limits.rate ?? (record.configurations.length === 0 ? record.lastRate : undefined);
  const counted = rate ? countedStarts(record.starts, rate, nowMs) : [];
  const oldest = counted.reduce((earliest, start) => Math.min(earliest, start.at), nowMs);
  return {
    flowControlKey: record.key,
    waitListSize: record.waiting,
    parallelismMax: limits.parallelism ?? 0,
    parallelismCount: record.inFlight,
    rateMax: rate?.max ?? 0,
    rateCount: counted.reduce((sum, start) => sum + start.count, 0),
    ratePeriod: rate ? rate.periodMs / SECOND_MS : 0,
    ratePeriodStart: Math.floor(oldest / SECOND_MS),
    isPaused: settings.paused === true,
    isPinnedParallelism: settings.pinnedParallelism !== undefined,
    isPinnedRate: settings.pinnedRate !== undefined,
  };
}

/**
 * Whether nothing is left to keep about a key: no pending message, no setting of its own and no
 * start its rate still counts. A store may forget such a key; it is created again as needed.
 */
export function isIdleKey(record: FlowControlKeyRecord): boolean {
  return (
    record.configurations.length === 0 &&
    record.inFlight === 0 &&
    isDefaultSettings(record.settings) &&
    record.starts.length === 0
  );
}

function keyNotFound(key: string): NotFoundError {
  return new NotFoundError(
    `flow-control key "${key}" not found: no pending message, setting or counted start has it`,
  );
}

export async function getFlowControlKey(
  deps: FlowControlDeps,
  key: string,
): Promise<FlowControlInfo> {
  const now = deps.clock.now();
  const record = await deps.flowControl.getKey(key, now);
  if (!record) throw keyNotFound(key);
  return flowControlInfo(record, now);
}

export async function listFlowControlKeys(
  deps: FlowControlDeps,
  search: string | undefined,
): Promise<FlowControlInfo[]> {
  const now = deps.clock.now();
  const records = await deps.flowControl.listKeys(search, now);
  return records.map((record) => flowControlInfo(record, now));
}

/**
 * `GET /v2/globalParallelism`: the operator's cap on flow-controlled attempts in flight over all
 * keys (0 when there is none) and how many are in flight.
 */
export async function getGlobalParallelism(
  deps: FlowControlDeps,
): Promise<{ parallelismMax: number; parallelismCount: number }> {
  return {
    parallelismMax: deps.config.flowControlGlobalParallelism ?? 0,
    parallelismCount: await deps.flowControl.inFlightTotal(),
  };
}

/** Paused, a key starts nothing; its messages wait and new ones join the waitlist. */
export async function setFlowControlPaused(
  deps: FlowControlDeps,
  key: string,
  paused: boolean,
): Promise<void> {
  await deps.flowControl.changeKey(
    key,
    (record) => {
      const { paused: _paused, ...rest } = record.settings;
      return { settings: paused ? { ...rest, paused: true } : rest };
    },
    deps.clock.now(),
  );
}

/** Clears the counted starts: the current time begins a new rate period. */
export async function resetFlowControlRate(deps: FlowControlDeps, key: string): Promise<void> {
  await deps.flowControl.changeKey(
    key,
    (record) => ({ settings: record.settings, resetRate: true }),
    deps.clock.now(),
  );
}

export async function pinFlowControl(
  deps: FlowControlDeps,
  key: string,
  request: PinRequest,
): Promise<void> {
  if (
    request.parallelism === undefined &&
    request.rate === undefined &&
    request.periodSec === undefined
  ) {
    throw new BadRequestError('pin needs at least one of parallelism, rate or period');
  }
  await deps.flowControl.changeKey(
    key,
    (record) => ({ settings: pinnedSettings(record, request), resetRate: true }),
    deps.clock.now(),
  );
}

/**
 * The settings after a pin. Each given field is pinned; a period alone re-pins the key's current
 * rate over it, and a rate alone keeps the key's current period (1 s when it has none). Pinning
 * resets the rate's count and period (QStash), so the pinned rate starts from a clean window.
 */
export function pinnedSettings(
  record: FlowControlKeyRecord,
  request: PinRequest,
): FlowControlSettings {
  const settings = settleCarriedValues(record.settings, record.configurations);
  const current = effectiveLimits(settings, record.configurations).rate;
  let pinnedRate: RateLimit | undefined = settings.pinnedRate;
  if (request.rate !== undefined || request.periodSec !== undefined) {
    const max = request.rate ?? current?.max;
    if (max === undefined) {
      throw new BadRequestError(
        `pin of period needs rate too: flow-control key "${record.key}" has no rate to apply it to`,
      );
    }
    const periodMs =
      request.periodSec !== undefined
        ? request.periodSec * SECOND_MS
        : (current?.periodMs ?? SECOND_MS);
    pinnedRate = { max, periodMs };
  }
  const { carriedParallelism, carriedRate, ...rest } = settings;
  return {
    ...rest,
    ...(request.parallelism !== undefined
      ? { pinnedParallelism: request.parallelism }
      : carriedParallelism !== undefined && { carriedParallelism }),
    ...(pinnedRate !== undefined ? { pinnedRate } : carriedRate !== undefined && { carriedRate }),
  };
}

export async function unpinFlowControl(
  deps: FlowControlDeps,
  key: string,
  request: UnpinRequest,
): Promise<void> {
  const now = deps.clock.now();
  await deps.flowControl.changeKey(
    key,
    (record) => ({ settings: unpinnedSettings(record.settings, request, now) }),
    now,
  );
}

/**
 * The settings after an unpin. An unpinned value is not dropped at once: delivery carries on
 * with it until a message published from now on brings a different one (QStash's unpin docs).
 */
export function unpinnedSettings(
  settings: FlowControlSettings,
  request: UnpinRequest,
  nowMs: number,
): FlowControlSettings {
  const { pinnedParallelism, pinnedRate, ...rest } = settings;
  const result: {
    -readonly [K in keyof FlowControlSettings]: FlowControlSettings[K];
  } = rest;
  if (pinnedParallelism !== undefined) {
    if (request.parallelism) result.carriedParallelism = { value: pinnedParallelism, since: nowMs };
    else result.pinnedParallelism = pinnedParallelism;
  }
  if (pinnedRate !== undefined) {
    if (request.rate) result.carriedRate = { value: pinnedRate, since: nowMs };
    else result.pinnedRate = pinnedRate;
  }
  return result;
}
