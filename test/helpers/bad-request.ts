import { BadRequestError } from '../../lambdas/core/errors';

/**
 * Runs `act`, asserts it threw a BadRequestError (status 400), and that the message contains
 * every fragment: the header name and the refused value, so the caller can see what to fix.
 */
export function expectBadRequest(act: () => unknown, ...fragments: string[]): BadRequestError {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(BadRequestError);
  const error = thrown as BadRequestError;
  expect(error.status).toBe(400);
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}
