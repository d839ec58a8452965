/** Times as the reader's local date and time, to the second; absent shows as a dash. */
export function formatTime(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || ms === 0) return '–';
  const date = new Date(ms);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(
    date.getHours(),
  )}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A `datetime-local` input's value as ms, or undefined when empty or invalid. */
export function parseLocalTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** How a log state reads in a list, and the class that colours it. */
const STATES: Record<string, readonly [label: string, tone: string]> = {
  CREATED: ['pending', 'wait'],
  RETRY: ['retry scheduled', 'wait'],
  ACTIVE: ['in flight', 'busy'],
  ERROR: ['attempt failed', 'bad'],
  DELIVERED: ['delivered', 'good'],
  FAILED: ['failed', 'bad'],
  CANCEL_REQUESTED: ['cancel requested', 'wait'],
  CANCELED: ['canceled', 'muted'],
};

/** In a timeline an event is something that happened, not where a message stands. */
const EVENT_LABELS: Record<string, string> = { CREATED: 'created', ACTIVE: 'attempt started' };

export function stateLabel(state: string, asEvent = false): readonly [string, string] {
  const [label, tone] = STATES[state] ?? [state.toLowerCase(), 'muted'];
  return [(asEvent && EVENT_LABELS[state]) || label, tone];
}

/** Bytes in a unit a reader takes in at once. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
