import type { HeaderMap } from '../headers';

/**
 * The Upstash Workflow vocabulary (workflow-protocol.md): a run is a chain of messages to the
 * app's `serve()` endpoint; the server keeps the run's steps and hands them to each delivery.
 */

/** The run states `@upstash/workflow` parses (`WorkflowRunLog.workflowState`). */
export type WorkflowRunState = 'RUN_STARTED' | 'RUN_SUCCESS' | 'RUN_FAILED' | 'RUN_CANCELED';

/**
 * What a message of a run is, from `Upstash-Workflow-CallType`: a step (the default), the
 * request of a `context.call` to the third party (`toCallback`), that call's callback to the
 * workflow (`fromCallback`), or the run's failure callback (`failureCall`).
 */
export type WorkflowCallType = 'step' | 'toCallback' | 'fromCallback' | 'failureCall';

/** The run that invoked this one with `context.invoke`, told when this run ends. */
export type WorkflowInvoker = {
  readonly runId: string;
  readonly url: string;
  readonly createdAt: number;
  /** The `Upstash-*` headers to publish the invoker's result step with (lowercase names). */
  readonly headers: Readonly<Record<string, string>>;
  /** The invoke step, as JSON, which the result step completes. */
  readonly step: string;
};

/** Where a resumed run takes its steps from: the failed run, up to the failed message. */
export type WorkflowResume = {
  readonly runId: string;
  /** The failed message's place in the old run; the steps before it are copied. */
  readonly beforeSeq: number;
};

/**
 * The workflow side of a stored message (`Message.workflow`). A run is opened by its first
 * message (`init`, or `resumedFrom`), when it is stored and again when it is first delivered, so
 * a crash between storing the message and opening the run cannot lose the run.
 */
export type WorkflowTag = {
  readonly runId: string;
  /** The workflow's URL (`Upstash-Workflow-Url`, else the destination). */
  readonly url: string;
  /** When the run was created (ms): `Upstash-Workflow-CreatedAt` on deliveries. */
  readonly createdAt: number;
  readonly callType: WorkflowCallType;
  /** The run's first message: its body is the run's initial payload. */
  readonly init?: boolean;
  /** `Upstash-Feature-Set` holds `LazyFetch`: a delivery may have an empty body. */
  readonly lazyFetch?: boolean;
  /**
   * On a run's first message: the headers that configure the run (WorkflowRun.configHeaders);
   * on a resumed run's, those that override the failed run's.
   */
  readonly config?: Readonly<Record<string, string>>;
  /** The waiter a notify's step resolves. */
  readonly waiterId?: string;
  /** A wait's timeout: it resolves the waiter whose id is its own message id. */
  readonly waitTimeout?: true;
  /** On the first message of an invoked run. */
  readonly invoker?: WorkflowInvoker;
  /** On the first message of a run resumed from the DLQ. */
  readonly resumedFrom?: WorkflowResume;
  /** On a failure callback: the dead letter of the message whose failure it reports. */
  readonly dlqId?: string;
};

/** One run, as the run registry keeps it. Small: steps and waiters are kept apart. */
export type WorkflowRun = {
  readonly runId: string;
  readonly url: string;
  readonly createdAt: number;
  readonly state: WorkflowRunState;
  /** When the run ended (success, failure or cancel). */
  readonly completedAt?: number;
  /** What the route function returned (the body of the run's final DELETE), as text. */
  readonly result?: string;
  readonly labels: readonly string[];
  readonly callerIp?: string;
  /**
   * The trigger's headers that configure every later message of the run (retries, retry delay,
   * failure callback, labels, forwarded headers), lowercase: in Workflow 1.x only the trigger
   * carries them, and the server applies them to each step published for the run.
   */
  readonly configHeaders: Readonly<Record<string, string>>;
  /** The trigger's own forwarded headers, to restart the run with. */
  readonly triggerHeader: HeaderMap;
  readonly triggerMessageId: string;
  readonly invoker?: WorkflowInvoker;
  /** Set when the run failed: its dead letter. */
  readonly dlqId?: string;
  /** Set when the run failed with a failure callback: that callback's message. */
  readonly failureCallbackMessageId?: string;
};

/**
 * A message of a run that has been delivered at least once: what the SDK is handed as the
 * run's history. `seq` orders them in delivery order; the run's initial payload is seq 0.
 */
export type WorkflowStep = {
  readonly seq: number;
  readonly messageId: string;
  readonly callType: WorkflowCallType;
  readonly body: Uint8Array;
  readonly createdAt: number;
};

/** A `waitForEvent` (or `waitForWebhook`) parked until a notify or its timeout. */
export type WorkflowWaiter = {
  /** The id of the wait's timeout message, which is unique per wait. */
  readonly waiterId: string;
  readonly runId: string;
  readonly eventId: string;
  /** Where a notify publishes the step (the workflow URL). */
  readonly url: string;
  /** The `Upstash-*` headers to publish the notified step with (lowercase names). */
  readonly headers: Readonly<Record<string, string>>;
  /** The wait step (JSON) that a notify or the timeout completes. */
  readonly step: string;
  /** When the timeout fires (ms). */
  readonly deadline: number;
  readonly timeoutUrl: string;
  readonly timeoutHeaders: HeaderMap;
  readonly createdAt: number;
  /** The message that resolved the wait, once one has. */
  readonly claimedBy?: string;
};

/** A `notify` for a run that was not waiting yet, kept for the wait that comes later. */
export type WorkflowNotification = {
  readonly runId: string;
  readonly eventId: string;
  readonly data: Uint8Array;
  readonly createdAt: number;
  /** Came in on the run's webhook URL: only a `waitForWebhook` takes it. */
  readonly webhook?: true;
};
