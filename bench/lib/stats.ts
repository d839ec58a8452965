/** Latency percentiles, in milliseconds. */
export type Percentiles = { readonly p50: number; readonly p99: number; readonly max: number };

/** Nearest-rank percentiles of `samples` (milliseconds); zeros when there are none. */
export function percentiles(samples: ArrayLike<number>): Percentiles {
  if (samples.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

export function median(values: readonly number[]): number {
  return percentiles(values).p50;
}

/** A grow-only list of numbers without per-sample allocation. */
export class Samples {
  #values = new Float64Array(1024);
  #length = 0;

  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length] = value;
    this.#length += 1;
  }

  get length(): number {
    return this.#length;
  }

  percentiles(): Percentiles {
    return percentiles(this.#values.subarray(0, this.#length));
  }
}
