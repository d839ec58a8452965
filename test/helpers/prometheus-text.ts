/** One sample line of the Prometheus text format. */
export type Sample = {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
};

export type Exposition = {
  /** Metric family name -> its `# TYPE`. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the one sample with this name and exactly these labels; throws when none. */
  value(name: string, labels?: Record<string, string>): number;
};

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (\\S+)(?: (-?\\d+))?$`,
);
const LABEL_PAIR = new RegExp(LABEL, 'g');
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly, as a scraper would: every line
 * a comment, a `# HELP`/`# TYPE` or a sample of a family whose TYPE came before it; label values
 * unescaped; histograms with cumulative buckets ending in `+Inf` equal to `_count`. Throws on the
 * first line that is not valid.
 */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new Error('the exposition does not end with a newline');
  lines.forEach((line, index) => {
    const where = `line ${index + 1} ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const comment = COMMENT.exec(line);
      if (!comment) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`malformed ${where}`);
        return;
      }
      const [, keyword, name, rest] = comment;
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest ?? '')) throw new Error(`unknown type at ${where}`);
        if (types.has(name!)) throw new Error(`second TYPE for ${name} at ${where}`);
        types.set(name!, rest!);
      }
      return;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`malformed sample at ${where}`);
    const name = match[1]!;
    if (familyOf(name, types) === undefined) throw new Error(`sample before its TYPE at ${where}`);
    const labels: Record<string, string> = {};
    for (const [, label, raw] of (match[2] ?? '').matchAll(LABEL_PAIR)) {
      if (label! in labels) throw new Error(`label ${label} twice at ${where}`);
      labels[label!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = parseValue(match[match.length - 2]!);
    if (value === undefined) throw new Error(`bad value at ${where}`);
    samples.push({ name, labels, value });
  });
  checkHistograms(types, samples);
  return {
    types,
    samples,
    value(name, wanted = {}) {
      const found = samples.filter(
        (sample) => sample.name === name && sameLabels(sample.labels, wanted),
      );
      if (found.length !== 1) {
        throw new Error(`${found.length} samples ${name}${JSON.stringify(wanted)}`);
      }
      return found[0]!.value;
    },
  };
}

function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ['histogram', 'summary'].includes(types.get(base) ?? '')) {
      return base;
    }
  }
  return undefined;
}

/** As Prometheus reads a value (Go's ParseFloat): Inf and NaN in any case (prom-client prints "Nan"). */
function parseValue(text: string): number | undefined {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return Number.NaN;
    return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const value = Number(text);
  return text !== '' && !Number.isNaN(value) ? value : undefined;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** Buckets are cumulative, end with `le="+Inf"`, and that bucket is the `_count`. */
function checkHistograms(types: ReadonlyMap<string, string>, samples: readonly Sample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le, ...rest } = sample.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      const bounds = buckets.map((bucket) => parseValue(bucket.labels.le!)!);
      if (bounds.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${family}: no +Inf bucket`);
      buckets.forEach((bucket, i) => {
        if (i > 0 && (bounds[i]! <= bounds[i - 1]! || bucket.value < buckets[i - 1]!.value)) {
          throw new Error(`${family}${key}: buckets not cumulative`);
        }
      });
      const count = samples.find(
        (s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key,
      );
      if (count?.value !== buckets.at(-1)!.value) {
        throw new Error(`${family}${key}: +Inf bucket is not the count`);
      }
    }
  }
}
