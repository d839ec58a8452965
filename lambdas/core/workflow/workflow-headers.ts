import { BadRequestError } from '../errors';
import type { HeaderMap, IncomingHeaders } from '../headers';
import type { Message } from '../message';
import type { WorkflowCallType } from './workflow-run';

/** The `Upstash-Workflow-*` headers `@upstash/workflow` publishes a run's messages with. */
export type WorkflowPublishHeaders = {
  readonly runId: string;
  /** `Upstash-Workflow-Init: true`: the message starts the run. */
  readonly init: boolean;
  readonly url?: string;
  readonly callType: WorkflowCallType;
  /** `Upstash-Workflow-Invoke: true`: the run is started by another run's `context.invoke`. */
  readonly invoke: boolean;
  /** `Upstash-Feature-Set` lists `LazyFetch`. */
  readonly lazyFetch: boolean;
};

const CALL_TYPES: readonly WorkflowCallType[] = [
  'step',
  'toCallback',
  'fromCallback',
  'failureCall',
];
/** Run ids travel in paths (`/v2/workflows/runs/{id}`): no `/`, `?`, `#` or spaces. */
const RUN_ID = /^[A-Za-z0-9._:~@-]{1,256}$/;
const FORWARD_PREFIX = 'upstash-forward-';
const FAILURE_CALLBACK_PREFIX = 'upstash-failure-callback';

/**
 * The trigger headers that configure a whole run. In Workflow 1.x only the trigger carries
 * them; every step published for the run is configured by them unless it sets its own.
 */
const RUN_CONFIG_HEADERS = new Set([
  'upstash-retries',
  'upstash-retry-delay',
  'upstash-timeout',
  'upstash-label',
  'upstash-flow-control-key',
  'upstash-flow-control-value',
]);

/** The workflow headers of a publish, or undefined when it is not a message of a run. */
export function readWorkflowHeaders(headers: IncomingHeaders): WorkflowPublishHeaders | undefined {
  const runId = headers['upstash-workflow-runid']?.trim();
  if (runId === undefined) return undefined;
  if (!RUN_ID.test(runId)) {
    throw new BadRequestError(
      `invalid Upstash-Workflow-RunId "${runId}": expected 1 to 256 letters, digits or ._:~@-`,
    );
  }
  const callType = (headers['upstash-workflow-calltype']?.trim() || 'step') as WorkflowCallType;
  if (!CALL_TYPES.includes(callType)) {
    throw new BadRequestError(
      `invalid Upstash-Workflow-CallType "${callType}": allowed values are ${CALL_TYPES.join(', ')}`,
    );
  }
  const features = (headers['upstash-feature-set'] ?? '').split(',').map((name) => name.trim());
  return {
    runId,
    init: isTrue(headers['upstash-workflow-init']),
    url: headers['upstash-workflow-url']?.trim() || undefined,
    callType,
    invoke: isTrue(headers['upstash-workflow-invoke']),
    lazyFetch: features.includes('LazyFetch'),
  };
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}

/** The trigger's headers that every later message of its run is configured by. */
export function runConfigHeaders(headers: IncomingHeaders): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (
      RUN_CONFIG_HEADERS.has(name) ||
      name.startsWith(FAILURE_CALLBACK_PREFIX) ||
      name.startsWith(FORWARD_PREFIX)
    ) {
      config[name] = value;
    }
  }
  return config;
}

/**
 * The headers a publish made by the server for a run (a notified step, an invoke's result) is
 * sent with: the `Upstash-*` ones and `Content-Type` the SDK gave, never its credentials.
 */
export function publishHeadersOf(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || (!lower.startsWith('upstash-') && lower !== 'content-type')) {
      continue;
    }
    kept[lower] = typeof value === 'string' ? value : value.join(', ');
  }
  return kept;
}

/**
 * The headers a delivery of a run's message carries besides its own: the run id (without it
 * the SDK answers 500 "Couldn't get workflow id from header"), the run's creation time and its
 * labels, which the SDK reads into `context.workflowRunCreatedAt` and `context.labels`.
 */
export function workflowDeliveryHeaders(message: Message): HeaderMap {
  const tag = message.workflow;
  if (!tag) return message.header;
  return {
    ...message.header,
    'Upstash-Workflow-Runid': [tag.runId],
    'Upstash-Workflow-Createdat': [String(tag.createdAt)],
    ...(message.labels.length > 0 && { 'Upstash-Label': [message.labels.join(',')] }),
  };
}
