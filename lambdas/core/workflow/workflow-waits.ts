import { parseDurationMs } from '../durations';
import { BadRequestError, WorkflowRunEndedError } from '../errors';
import type { HeaderMap, IncomingHeaders } from '../headers';
import { appendHeader, canonicalHeaderName } from '../headers';
import { isPlainObject } from '../json-values';
import type { PublishResult } from '../publish';
import { publishMessage } from '../publish';
import { publishHeadersOf, readWorkflowHeaders } from './workflow-headers';
import { assertRunAcceptsSteps, hasEnded } from './workflow-publish';
import type { WorkflowNotification, WorkflowWaiter } from './workflow-run';
import type { WorkflowDeps } from './workflow-runs';

const encoder = new TextEncoder();
const MAX_EVENT_ID_LENGTH = 256;
const SECOND_MS = 1000;

/** The body of `POST /v2/wait/{eventId}` (the SDK's `WaitRequest`). */
type WaitRequest = {
  readonly url: string;
  readonly timeout: string;
  readonly timeoutUrl?: string;
  readonly timeoutHeaders?: Record<string, unknown>;
  readonly step: Record<string, unknown>;
};

/** A waiter as `GET /v2/waiters/{eventId}` and a notify's answer show it (the SDK's `Waiter`). */
export type WaiterView = {
  url: string;
  deadline: number;
  headers: HeaderMap;
  timeoutUrl: string;
  timeoutHeaders: HeaderMap;
};

/** One run a notify resumed (the SDK's `NotifyResponse`). */
export type NotifyResult = { waiter: WaiterView; messageId: string };

export function validateEventId(eventId: string): string {
  if (eventId === '' || eventId.length > MAX_EVENT_ID_LENGTH) {
    throw new BadRequestError(`invalid event id: expected 1 to ${MAX_EVENT_ID_LENGTH} characters`);
  }
  return eventId;
}

/**
 * `POST /v2/wait/{eventId}` (`context.waitForEvent`, `waitForWebhook`): parks the run's wait
 * step until a notify or its timeout. The timeout is a message of the run, published now to be
 * delivered at the deadline; the waiter is kept under that message's id, and whichever of the
 * timeout and a notify's step is delivered first resolves it. A notification kept for this run
 * and event (`/v2/notify/{runId}/{eventId}` before the wait) resolves it at once.
 */
export async function waitForEvent(
  deps: WorkflowDeps,
  eventId: string,
  headers: IncomingHeaders,
  body: unknown,
): Promise<void> {
  validateEventId(eventId);
  const request = readWaitRequest(body);
  const workflow = readWorkflowHeaders(headers);
  if (!workflow) {
    throw new BadRequestError(
      'Upstash-Workflow-RunId is required: a wait belongs to a workflow run',
    );
  }
  const run = await deps.workflowRuns.getRun(workflow.runId);
  assertRunAcceptsSteps(workflow.runId, run);
  const timeoutMs = parseDurationMs(request.timeout, '"timeout"');
  const timeoutUrl = request.timeoutUrl ?? request.url;
  const timeoutHeaders = headerMapOf(request.timeoutHeaders ?? {});
  const step = JSON.stringify(request.step);
  const published = await publishMessage(deps, {
    rawDestination: timeoutUrl,
    rawQuery: '',
    headers: {
      ...publishHeadersOf(timeoutHeaders),
      'upstash-delay': `${timeoutMs / SECOND_MS}s`,
    },
    body: encoder.encode(JSON.stringify({ ...request.step, waitTimeout: true })),
    resolvesWait: { timeout: true },
  });
  const waiter: WorkflowWaiter = {
    waiterId: messageIdOf(published),
    runId: run.runId,
    eventId,
    url: request.url,
    headers: publishHeadersOf(headers),
    step,
    deadline: deps.clock.now() + timeoutMs,
    timeoutUrl,
    timeoutHeaders,
    createdAt: deps.clock.now(),
  };
  await deps.workflowRuns.putWaiter(waiter);
  const kept = await deps.workflowRuns.takeNotification(run.runId, eventId, isWebhookWait(waiter));
  if (kept) await resolveWaiter(deps, waiter, kept.data);
}

/**
 * `POST /v2/notify/{eventId}` and `/v2/notify/{runId}/{eventId}`: resumes every run waiting
 * for the event (or that run's waits) with the event's data. With a run id and no wait yet,
 * the notification is kept for the run's wait to come.
 */
export async function notifyEvent(
  deps: WorkflowDeps,
  eventId: string,
  data: Uint8Array,
  runId?: string,
): Promise<NotifyResult[]> {
  validateEventId(eventId);
  const waiters = await deps.workflowRuns.listWaiters(eventId, runId);
  if (waiters.length === 0 && runId !== undefined) {
    await keepNotification(deps, { runId, eventId, data, createdAt: deps.clock.now() });
    return [];
  }
  const results: NotifyResult[] = [];
  for (const waiter of waiters) {
    const messageId = await resolveWaiter(deps, waiter, data);
    if (messageId !== undefined) results.push({ waiter: waiterView(waiter), messageId });
  }
  return results;
}

async function keepNotification(
  deps: WorkflowDeps,
  notification: WorkflowNotification,
): Promise<void> {
  const run = await deps.workflowRuns.getRun(notification.runId);
  if (run && !hasEnded(run)) await deps.workflowRuns.putNotification(notification);
}

/** What a call of a webhook URL made by `context.createWebhook` was. */
export type WebhookCall = {
  readonly userId: string;
  readonly runId: string;
  readonly eventId: string;
  readonly method: string;
  /** `http` or `https`, as the caller reached the server. */
  readonly proto: string;
  readonly host: string;
  /** Path and query. */
  readonly url: string;
  readonly header: HeaderMap;
  readonly body: Uint8Array;
};

/**
 * A call of `{server}/v2/workflows/hooks/{userId}/{runId}/{eventId}` (`context.createWebhook`):
 * the request (method, URL, headers, body) is the event of the run's `waitForWebhook`, kept
 * for the wait if it comes later. The URL is the credential (the SDK names the event
 * `evt_` + 15 random characters), so it can resolve a webhook wait of that run and nothing
 * else: never a `waitForEvent`, whose event ids are chosen by the app and may be guessed.
 * Resolves false when the URL does not name this server's user.
 */
export async function receiveWebhook(
  deps: WorkflowDeps,
  userId: string | undefined,
  call: WebhookCall,
): Promise<boolean> {
  if (userId === undefined || call.userId !== userId) return false;
  validateEventId(call.eventId);
  const data = encoder.encode(
    JSON.stringify({
      proto: call.proto,
      host: call.host,
      url: call.url,
      method: call.method,
      header: call.header,
      body: Buffer.from(call.body).toString('base64'),
    }),
  );
  const waiters = (await deps.workflowRuns.listWaiters(call.eventId, call.runId)).filter(
    isWebhookWait,
  );
  if (waiters.length === 0) {
    await keepNotification(deps, {
      runId: call.runId,
      eventId: call.eventId,
      data,
      createdAt: deps.clock.now(),
      webhook: true,
    });
  }
  for (const waiter of waiters) await resolveWaiter(deps, waiter, data);
  return true;
}

function isWebhookWait(waiter: WorkflowWaiter): boolean {
  return (JSON.parse(waiter.step) as { stepType?: unknown }).stepType === 'WaitForWebhook';
}

/**
 * The user id in a token the SDK can make webhook URLs with: QStash tokens are base64 JSON
 * with a `UserID` (the SDK decodes it the same way). Undefined for any other token.
 */
export function tokenUserId(token: string): string | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const userId = isPlainObject(payload) ? payload.UserID : undefined;
    return typeof userId === 'string' && userId !== '' ? userId : undefined;
  } catch {
    return undefined;
  }
}

/** `GET /v2/waiters/{eventId}`: the waits not yet resolved, oldest first. */
export async function listWaiters(deps: WorkflowDeps, eventId: string): Promise<WaiterView[]> {
  validateEventId(eventId);
  return (await deps.workflowRuns.listWaiters(eventId)).map(waiterView);
}

/**
 * Publishes the wait's step completed with the event (`out` is the data, base64), claims the
 * waiter for it, and cancels the timeout. The step is stored before the claim, so a crash in
 * between leaves a step whose delivery claims the waiter; one that loses the claim to the
 * timeout or another notify is canceled. Resolves the step's message id, if it won.
 */
async function resolveWaiter(
  deps: WorkflowDeps,
  waiter: WorkflowWaiter,
  data: Uint8Array,
): Promise<string | undefined> {
  const step = JSON.parse(waiter.step) as Record<string, unknown>;
  let published: PublishResult;
  try {
    published = await publishMessage(deps, {
      rawDestination: waiter.url,
      rawQuery: '',
      headers: waiter.headers,
      body: encoder.encode(
        JSON.stringify({ ...step, out: Buffer.from(data).toString('base64'), waitTimeout: false }),
      ),
      resolvesWait: { waiterId: waiter.waiterId },
    });
  } catch (error) {
    // The run ended while the waiter was listed: there is nothing to resume.
    if (error instanceof WorkflowRunEndedError) return undefined;
    throw error;
  }
  const messageId = messageIdOf(published);
  const now = deps.clock.now();
  if ((await deps.workflowRuns.claimWaiter(waiter.waiterId, messageId)) !== 'claimed') {
    await deps.store.cancelMessages({ messageIds: [messageId] }, now);
    return undefined;
  }
  await deps.store.cancelMessages({ messageIds: [waiter.waiterId] }, now);
  return messageId;
}

function waiterView(waiter: WorkflowWaiter): WaiterView {
  return {
    url: waiter.url,
    deadline: waiter.deadline,
    headers: headerMapOf(waiter.headers),
    timeoutUrl: waiter.timeoutUrl,
    timeoutHeaders: waiter.timeoutHeaders,
  };
}

function messageIdOf(published: PublishResult): string {
  // A run's messages go to a URL, never a group, so a publish answers one message.
  return Array.isArray(published) ? published[0]!.messageId : published.messageId;
}

function readWaitRequest(body: unknown): WaitRequest {
  const expected =
    '{"url": "...", "timeout": "7d", "timeoutUrl": "...", "timeoutHeaders": {...}, "step": {...}}';
  if (
    !isPlainObject(body) ||
    typeof body.url !== 'string' ||
    typeof body.timeout !== 'string' ||
    !isPlainObject(body.step) ||
    (body.timeoutUrl !== undefined && typeof body.timeoutUrl !== 'string') ||
    (body.timeoutHeaders !== undefined && !isPlainObject(body.timeoutHeaders))
  ) {
    throw new BadRequestError(`invalid wait request: expected ${expected}`);
  }
  return body as WaitRequest;
}

/** Headers given as `{name: value}` or `{name: [values]}`, as a canonical HeaderMap. */
function headerMapOf(headers: Readonly<Record<string, unknown>>): HeaderMap {
  const map: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== 'string') {
        throw new BadRequestError(`invalid header "${name}": values must be strings`);
      }
      // Two spellings of one name (`Upstash-Workflow-Runid`, `-RunId`) hold the same value.
      if (!map[canonicalHeaderName(name)]?.includes(item)) appendHeader(map, name, item);
    }
  }
  return map;
}
