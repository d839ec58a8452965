import type {
  WorkflowCallType,
  WorkflowNotification,
  WorkflowRun,
  WorkflowRunState,
  WorkflowStep,
  WorkflowWaiter,
} from '../core/workflow/workflow-run';
import type { Page } from './listing';

/** Which runs a list or bulk action selects: OR within a field, AND across fields. */
export type WorkflowRunFilter = {
  readonly runIds?: readonly string[];
  /** Exact workflow URLs. */
  readonly urls?: readonly string[];
  /** Workflow URLs starting with any of these. */
  readonly urlPrefixes?: readonly string[];
  readonly states?: readonly WorkflowRunState[];
  /** Runs carrying any of these labels. */
  readonly labels?: readonly string[];
  readonly callerIps?: readonly string[];
  /** Exact creation time (ms), as `workflowCreatedAt` filters. */
  readonly createdAt?: number;
  /** Inclusive bounds on the creation time (ms). */
  readonly fromDate?: number;
  readonly toDate?: number;
  /** Only runs that failed into the DLQ (a `dlqId` is set). */
  readonly failed?: boolean;
};

/** One page of runs, newest first (by creation time, then run id). */
export type WorkflowRunQuery = {
  readonly filter: WorkflowRunFilter;
  /** Opaque, from the previous page; an adapter refuses one it cannot read (400). */
  readonly cursor?: string;
  readonly count: number;
};

/** A step to add to a run's history; the store gives it its place (`seq`). */
export type NewWorkflowStep = {
  readonly messageId: string;
  readonly callType: WorkflowCallType;
  readonly body: Uint8Array;
  readonly createdAt: number;
};

/** How a run ends; only a run that has not succeeded or been canceled can end. */
export type WorkflowRunEnd = {
  readonly state: 'RUN_SUCCESS' | 'RUN_CANCELED';
  readonly at: number;
  readonly result?: string;
};

/** How a run failed. */
export type WorkflowRunFailure = {
  readonly dlqId: string;
  readonly failureCallbackMessageId?: string;
  readonly at: number;
};

/** Whether a message won the waiter it resolves (see claimWaiter). */
export type WaiterClaim = 'claimed' | 'taken' | 'missing';

/**
 * The workflow run registry: runs, their step histories, parked waits and early notifications.
 * Every method is atomic on its own; none spans another port, so each caller orders its writes
 * so that a crash between two of them leaves something the next delivery repairs (the run is
 * reopened from its first message, a waiter is claimed by the message that resolves it).
 * Items stay small (a step holds one message body) so a DynamoDB adapter fits them in 400 KB
 * items: a run's history is read step by step, never as one item.
 */
export type WorkflowRunStore = {
  /**
   * Opens a run with its first steps (the initial payload first), unless a run with that id
   * exists: then nothing changes and it resolves false.
   */
  createRun(run: WorkflowRun, steps: readonly NewWorkflowStep[]): Promise<boolean>;
  getRun(runId: string): Promise<WorkflowRun | undefined>;
  listRuns(query: WorkflowRunQuery): Promise<Page<WorkflowRun>>;
  /**
   * Ends a run that is started or failed, recording `end`; resolves the ended run, or
   * undefined when there is no such run or it already succeeded or was canceled.
   */
  endRun(runId: string, end: WorkflowRunEnd): Promise<WorkflowRun | undefined>;
  /**
   * Marks a started run failed. A run that failed with the same dead letter only takes the
   * failure callback given (the failure function was retried); any other run is left as it is.
   */
  markRunFailed(runId: string, failure: WorkflowRunFailure): Promise<void>;

  /** Records that a message belongs to the run, so cancelling the run finds it. Idempotent. */
  addMessage(runId: string, messageId: string, createdAt: number): Promise<void>;
  /** Every message recorded for the run, in the order recorded. */
  listMessageIds(runId: string): Promise<string[]>;
  /**
   * Adds the step at the end of the run's history and resolves its `seq`; a message already
   * in the history keeps its place (its `seq` is resolved, nothing changes).
   */
  appendStep(runId: string, step: NewWorkflowStep): Promise<number>;
  /** The run's history in `seq` order, up to and including `throughSeq` when given. */
  listSteps(runId: string, throughSeq?: number): Promise<WorkflowStep[]>;

  putWaiter(waiter: WorkflowWaiter): Promise<void>;
  getWaiter(waiterId: string): Promise<WorkflowWaiter | undefined>;
  /** Waiters not yet resolved for the event, in any run or in `runId`'s, oldest first. */
  listWaiters(eventId: string, runId?: string): Promise<WorkflowWaiter[]>;
  /**
   * Lets `messageId` resolve the waiter: `claimed` when it is unresolved (now resolved by it)
   * or already resolved by it, `taken` when another message resolved it, `missing` when there
   * is no such waiter.
   */
  claimWaiter(waiterId: string, messageId: string): Promise<WaiterClaim>;

  /** Keeps a notification for the run's wait on that event that is yet to come. */
  putNotification(notification: WorkflowNotification): Promise<void>;
  /**
   * Removes and resolves the oldest notification kept for the run and event, if any: one that
   * came in on a webhook when `webhook` is true, one from a notify otherwise.
   */
  takeNotification(
    runId: string,
    eventId: string,
    webhook: boolean,
  ): Promise<WorkflowNotification | undefined>;
  /** Forgets the run's waiters and kept notifications (the run ended). */
  deleteWaits(runId: string): Promise<void>;
};
