/** Asserts that no `max + 1` of the times (sorted) fall within `windowMs` of each other. */
export function expectAtMostPerWindow(
  times: readonly number[],
  max: number,
  windowMs: number,
): void {
  const sorted = [...times].sort((a, b) => a - b);
  for (let i = 0; i + max < sorted.length; i += 1) {
    expect(sorted[i + max]! - sorted[i]!).toBeGreaterThanOrEqual(windowMs);
  }
}
