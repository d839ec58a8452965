/** An endpoint of a URL group; `name` is optional and unique within its group when given. */
export type Endpoint = { readonly url: string; readonly name?: string };

export type UrlGroup = {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** In the order they were first added; never empty, since removing the last deletes the group. */
  readonly endpoints: readonly Endpoint[];
};

/**
 * Selects endpoints to remove: an endpoint matches when every field given matches it, so
 * `{name}` or `{url}` alone matches on that field, and both together must both match.
 */
export type EndpointMatcher = { readonly url?: string; readonly name?: string };

/** A refused upsert: after it, two endpoints of the group would have shared `name`. */
export type EndpointNameConflict = {
  readonly name: string;
  /** The endpoint that keeps the name. */
  readonly heldByUrl: string;
  readonly wantedByUrl: string;
};

export type UpsertEndpointsResult =
  | { readonly upserted: true }
  | { readonly upserted: false; readonly conflict: EndpointNameConflict };

export type RemoveEndpointsResult = {
  /** How many endpoints matched and were removed; 0 leaves the group untouched. */
  readonly removed: number;
  /** True when the last endpoint went and the group with it. */
  readonly groupDeleted: boolean;
};

/**
 * URL groups ("topics"): named sets of endpoints a publish fans out to. Each method is atomic:
 * a concurrent call sees the group either before or after it, never half-changed.
 */
export type UrlGroupStore = {
  /**
   * Adds endpoints, creating the group if it is missing. An endpoint whose url is already in the
   * group replaces it in place (keeping its position; given without a name, it loses its name);
   * new ones are appended in the order given. Nothing is written, and the conflict is returned,
   * when the group would end up with two endpoints of one name. `endpoints` is non-empty and
   * holds each url once.
   */
  upsertEndpoints(
    name: string,
    endpoints: readonly Endpoint[],
    nowMs: number,
  ): Promise<UpsertEndpointsResult>;
  /**
   * Removes every endpoint that any matcher matches, deleting the group when none remain.
   * Resolves undefined when the group does not exist.
   */
  removeEndpoints(
    name: string,
    matchers: readonly EndpointMatcher[],
    nowMs: number,
  ): Promise<RemoveEndpointsResult | undefined>;
  getGroup(name: string): Promise<UrlGroup | undefined>;
  /** Every group, ordered by name. */
  listGroups(): Promise<UrlGroup[]>;
  /** Resolves false when the group does not exist. */
  deleteGroup(name: string): Promise<boolean>;
};
