/** A JSON object (not an array, not null), as request bodies parsed by the API layer hold them. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
