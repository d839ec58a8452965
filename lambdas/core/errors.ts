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
