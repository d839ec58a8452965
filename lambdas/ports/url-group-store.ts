/** An endpoint of a URL group; `name` is optional and unique within its group when given. */
export type Endpoint = { readonly url: string; readonly name?: string };

export type UrlGroup = {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly endpoints: readonly Endpoint[];
};

/** URL groups ("topics"): named sets of endpoints a publish fans out to. */
export type UrlGroupStore = {
  /** Adds or updates endpoints (matched by url), creating the group if it is missing. */
  upsertEndpoints(name: string, endpoints: readonly Endpoint[], nowMs: number): Promise<void>;
  /**
   * Removes endpoints matching by name or url; deletes the group when none remain.
   * Resolves false when the group does not exist.
   */
  removeEndpoints(name: string, endpoints: readonly Endpoint[], nowMs: number): Promise<boolean>;
  getGroup(name: string): Promise<UrlGroup | undefined>;
  listGroups(): Promise<UrlGroup[]>;
  /** Resolves false when the group does not exist. */
  deleteGroup(name: string): Promise<boolean>;
};
