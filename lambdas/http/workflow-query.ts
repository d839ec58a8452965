import { BadRequestError } from '../core/errors';
import type { WorkflowRunState } from '../core/workflow/workflow-run';
import type { WorkflowRunFilter } from '../ports/workflow-run-store';

/**
 * Query parameters of the workflow list and bulk endpoints (`/v2/workflows/events`,
 * `/v2/workflows/runs`, `/v2/workflows/dlq`, `/v2/dlq?source=workflow`), as the SDK's
 * `buildBulkActionQueryParameters` sends them: a multi-valued filter repeats or holds
 * comma-separated values; OR within one filter, AND across them. A bulk action refuses a
 * parameter it does not know, so a filter it did not understand can never widen it.
 */

const RUN_STATES: readonly WorkflowRunState[] = [
  'RUN_STARTED',
  'RUN_SUCCESS',
  'RUN_FAILED',
  'RUN_CANCELED',
];
const WHOLE_NUMBER = /^\d+$/;
/** Accepted and ignored: auth, and `groupBy`, whose only value groups by run, as we always do. */
const IGNORED = new Set(['qstash_token', 'groupBy']);

export type WorkflowQueryArea = {
  readonly countDefault: number;
  readonly countMax: number;
  readonly strict: boolean;
  /** Parameters beyond the run filters this area takes. */
  readonly extra: readonly ('cursor' | 'dlqIds' | 'workflowRunIds' | 'failureFunctionState')[];
};

export type WorkflowQuery = {
  readonly filter: WorkflowRunFilter;
  readonly count: number;
  readonly cursor?: string;
  readonly dlqIds?: readonly string[];
  /** `failureFunctionState`: the failure callback states (FailureCallbackInfo.state) to select. */
  readonly failureFunctionStates?: readonly string[];
};

export const WORKFLOW_LOGS: WorkflowQueryArea = {
  countDefault: 10,
  countMax: 100,
  strict: false,
  extra: ['cursor'],
};
export const WORKFLOW_CANCEL: WorkflowQueryArea = {
  countDefault: 100,
  countMax: 1000,
  strict: true,
  extra: ['workflowRunIds'],
};
export const WORKFLOW_DLQ_LIST: WorkflowQueryArea = {
  countDefault: 100,
  countMax: 100,
  strict: false,
  extra: ['cursor', 'dlqIds', 'failureFunctionState'],
};
export const WORKFLOW_DLQ_BULK: WorkflowQueryArea = { ...WORKFLOW_DLQ_LIST, strict: true };

export function parseWorkflowQuery(rawQuery: string, area: WorkflowQueryArea): WorkflowQuery {
  const params = new URLSearchParams(rawQuery);
  const filter: Record<string, unknown> = {};
  const result: {
    count: number;
    cursor?: string;
    dlqIds?: string[];
    failureFunctionStates?: string[];
  } = { count: area.countDefault };
  const add = (key: string, values: readonly unknown[]) => {
    filter[key] = [...((filter[key] as unknown[] | undefined) ?? []), ...values];
  };
  const exactUrl = params.get('workflowUrlExactMatch')?.trim().toLowerCase() === 'true';
  for (const name of new Set(params.keys())) {
    const all = params.getAll(name);
    switch (name) {
      case 'workflowRunId':
        add('runIds', split(name, all));
        break;
      case 'workflowUrl':
      case 'url':
        // A URL may hold a comma: never split. Exact only when asked, as the SDK's cancel asks.
        add(exactUrl || name === 'url' ? 'urls' : 'urlPrefixes', all.map(nonEmpty(name)));
        break;
      case 'workflowUrlExactMatch':
        break;
      case 'state':
        add('states', split(name, all).map(parseState));
        break;
      case 'label':
        add('labels', split(name, all));
        break;
      case 'callerIp':
      case 'callerIP':
        add('callerIps', split(name, all));
        break;
      case 'workflowCreatedAt':
        filter.createdAt = wholeNumber(name, single(name, all));
        break;
      case 'fromDate':
      case 'toDate':
        filter[name] = wholeNumber(name, single(name, all));
        break;
      case 'count':
        result.count = parseCount(single(name, all), area);
        break;
      default:
        if (area.extra.includes('cursor') && name === 'cursor') {
          result.cursor = single(name, all) || undefined;
        } else if (area.extra.includes('workflowRunIds') && name === 'workflowRunIds') {
          add('runIds', split(name, all));
        } else if (area.extra.includes('dlqIds') && name === 'dlqIds') {
          result.dlqIds = [...(result.dlqIds ?? []), ...split(name, all)];
        } else if (area.extra.includes('failureFunctionState') && name === 'failureFunctionState') {
          result.failureFunctionStates = split(name, all);
        } else if (area.strict && !IGNORED.has(name)) {
          throw new BadRequestError(
            `unknown query parameter "${name}": allowed parameters are ${allowed(area).join(', ')}`,
          );
        }
    }
  }
  return { ...result, filter: filter as WorkflowRunFilter };
}

function allowed(area: WorkflowQueryArea): string[] {
  return [
    'workflowRunId',
    'workflowUrl',
    'workflowUrlExactMatch',
    'state',
    'label',
    'callerIp',
    'workflowCreatedAt',
    'fromDate',
    'toDate',
    'count',
    ...area.extra,
  ];
}

function nonEmpty(name: string): (value: string) => string {
  return (value) => {
    const trimmed = value.trim();
    if (trimmed === '') {
      throw new BadRequestError(`query parameter "${name}" has an empty value; give one or more`);
    }
    return trimmed;
  };
}

function split(name: string, values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(',')).map(nonEmpty(name));
}

function single(name: string, values: readonly string[]): string {
  if (values.length > 1) {
    throw new BadRequestError(
      `query parameter "${name}" is given ${values.length} times; give it once`,
    );
  }
  return values[0]!;
}

function wholeNumber(name: string, value: string): number {
  const trimmed = value.trim();
  if (!WHOLE_NUMBER.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    throw new BadRequestError(`invalid ${name} "${value}": expected a Unix time in milliseconds`);
  }
  return Number(trimmed);
}

function parseCount(value: string, area: WorkflowQueryArea): number {
  const trimmed = value.trim();
  const count = Number(trimmed);
  if (!WHOLE_NUMBER.test(trimmed) || count < 1 || count > area.countMax) {
    throw new BadRequestError(
      `invalid count "${value}": expected a whole number from 1 to ${area.countMax}`,
    );
  }
  return count;
}

function parseState(value: string): WorkflowRunState {
  const state = RUN_STATES.find((allowedState) => allowedState === value.toUpperCase());
  if (!state) {
    throw new BadRequestError(
      `invalid state "${value}": allowed values are ${RUN_STATES.join(', ')}`,
    );
  }
  return state;
}
