/**
 * Errors the QStash API answers with a 4xx. The core raises them; `http/error-response.ts`
 * is the one place that turns them into a status and a `{"error": "..."}` body.
 */
export abstract class QStashApiError extends Error {
  abstract readonly status: number;
}

/** Input the caller can fix: a header, query parameter, path or body that is not allowed. */
export class BadRequestError extends QStashApiError {
  readonly status = 400;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BadRequestError';
  }
}

export class UnauthorizedError extends QStashApiError {
  readonly status = 401;
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

export class NotFoundError extends QStashApiError {
  readonly status = 404;
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends QStashApiError {
  readonly status = 405;
  constructor(message: string) {
    super(message);
    this.name = 'MethodNotAllowedError';
  }
}

export class PayloadTooLargeError extends QStashApiError {
  readonly status = 413;
  constructor(message: string) {
    super(message);
    this.name = 'PayloadTooLargeError';
  }
}

/** A feature this runtime does not provide (yet), as opposed to a request the caller got wrong. */
export class NotImplementedError extends QStashApiError {
  readonly status = 501;
  constructor(message: string) {
    super(message);
    this.name = 'NotImplementedError';
  }
}

/**
 * A step published for a workflow run that has ended (succeeded or been canceled) or that does
 * not exist. `@upstash/workflow` reads a 400 here as "the run is over" and stops quietly, so it
 * fails a whole `/v2/batch` (the SDK publishes steps in batches), never just one slot.
 */
export class WorkflowRunEndedError extends BadRequestError {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowRunEndedError';
  }
}
