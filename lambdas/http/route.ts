import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { ApiRequest, ApiResponse } from './api-types';

/** What every route handler may use; each area adds the services it needs. */
export type RouteContext<Deps> = {
  readonly request: ApiRequest;
  /** The pattern's capture groups, raw (not percent-decoded). */
  readonly params: readonly string[];
  readonly deps: Deps;
};

export type Route<Deps> = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Matched against the raw path; anchored. */
  readonly pattern: RegExp;
  readonly handle: (context: RouteContext<Deps>) => Promise<ApiResponse>;
  /**
   * Served without the token: only for a URL that is itself the credential (a workflow's
   * webhook URL, which callers outside the app are handed).
   */
  readonly public?: true;
};

/** Dependencies every API has. */
export type BaseApiDeps = {
  readonly token: string;
  readonly logger: Logger;
  readonly clock: Clock;
};
