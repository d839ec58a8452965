import { api } from './api';

/** One event of the log as `/v2/events` serves it (the fields the console reads). */
export type LogEntry = {
  readonly time: number;
  readonly messageId: string;
  readonly state: string;
  readonly url: string;
};

type EventsPage = { events: LogEntry[]; cursor?: string };

/** How often the log is asked for what is new. */
export const LIVE_INTERVAL_MS = 2_000;
/** Pages read per poll; more than that at once and views just refresh. */
const MAX_PAGES_PER_POLL = 3;
const PAGE_SIZE = 1_000;

function keyOf(entry: LogEntry): string {
  return `${entry.messageId} ${entry.state} ${entry.time}`;
}

/**
 * Tails the event log: every LIVE_INTERVAL_MS it asks for the events from the newest time seen
 * (a numeric cursor is a time to start from, inclusive), drops those already seen in that
 * millisecond, and hands the rest to `onEvents`. Polling the log the API already serves keeps
 * the server free of long-lived connections; when nothing happens a poll is one indexed read.
 * `onEvents` is called after every poll, with the new events (often none), so that views
 * showing unfinished messages can look again: an attempt starting writes no event.
 * Returns a function that stops it.
 */
export function tailEvents(
  onEvents: (events: LogEntry[]) => void,
  onError: (error: unknown) => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let since: number | undefined;
  let seenAtSince = new Set<string>();

  const poll = async () => {
    if (since === undefined) {
      const newest = await api<EventsPage>('/v2/events?count=1&order=latestFirst');
      const first = newest.events[0];
      since = first?.time ?? 0;
      seenAtSince = new Set(first ? [keyOf(first)] : []);
      return;
    }
    const fresh: LogEntry[] = [];
    let cursor = String(since);
    for (let page = 0; page < MAX_PAGES_PER_POLL; page += 1) {
      const answer = await api<EventsPage>(
        `/v2/events?order=earliestFirst&count=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`,
      );
      for (const entry of answer.events) {
        if (!seenAtSince.has(keyOf(entry))) fresh.push(entry);
      }
      if (answer.cursor === undefined) break;
      cursor = answer.cursor;
    }
    if (fresh.length === 0) {
      onEvents([]);
      return;
    }
    const newest = fresh.reduce((latest, entry) => Math.max(latest, entry.time), since);
    if (newest > since) seenAtSince = new Set();
    since = newest;
    for (const entry of fresh) if (entry.time === newest) seenAtSince.add(keyOf(entry));
    onEvents(fresh);
  };

  const loop = async () => {
    try {
      await poll();
    } catch (error) {
      onError(error);
    }
    if (!stopped) timer = setTimeout(loop, LIVE_INTERVAL_MS);
  };
  void loop();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
