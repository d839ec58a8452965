import { BadRequestError } from '../core/errors';

/** A path segment captured raw by a route pattern, percent-decoded. */
export function pathParam(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`invalid ${what} "${raw}": malformed percent-encoding`);
  }
}
