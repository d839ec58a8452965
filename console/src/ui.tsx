import type { ComponentChildren, VNode } from 'preact';
import { cloneElement, createContext } from 'preact';
import { useCallback, useContext, useEffect, useId, useRef, useState } from 'preact/hooks';
import { stateLabel } from './format';

/** Bumped whenever the live feed saw new events; views that list things reload on it. */
export const LiveVersion = createContext(0);
/** Bumped on every poll of the live feed, events or not. */
export const LiveTick = createContext(0);

/** The tick while `watching` (a view shows unfinished messages), else a constant. */
export function useTickWhile(watching: boolean): number {
  const tick = useContext(LiveTick);
  return watching ? tick : -1;
}

export type Loaded<T> = {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
};

/**
 * Runs `load` when `deps` change and whenever the live feed moves, keeping the last data while a
 * reload runs (so a live refresh does not blank the view); an answer that arrives after a newer
 * request was made is dropped.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  live = true,
): Loaded<T> {
  const version = useContext(LiveVersion);
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const request = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => {
        if (request === latest.current) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (request === latest.current)
          setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
  }, [...deps, nonce, live ? version : 0]);
  const reload = useCallback(() => setNonce((value) => value + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function StateBadge({
  state,
  inFlight = false,
  asEvent = false,
}: {
  state: string;
  inFlight?: boolean;
  asEvent?: boolean;
}) {
  const [label, tone] = stateLabel(inFlight ? 'ACTIVE' : state, asEvent);
  return <span class={`badge ${tone}`}>{label}</span>;
}

export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p class="notice bad" role="alert">
      {message}
    </p>
  );
}

/** A polite status line for what an action did ("Retried 3 messages"). */
export function StatusLine({ text }: { text: string | undefined }) {
  return (
    <p class="status-line" role="status" aria-live="polite">
      {text ?? ''}
    </p>
  );
}

/**
 * Keyset paging: the cursors of the pages before this one are kept, so "Previous" goes back
 * exactly; the server never counts or skips rows.
 */
export function useCursorPages(resetKey: string) {
  const [stack, setStack] = useState<string[]>([]);
  const [current, setCurrent] = useState<string | undefined>(undefined);
  useEffect(() => {
    setStack([]);
    setCurrent(undefined);
  }, [resetKey]);
  return {
    cursor: current,
    page: stack.length + 1,
    next: (cursor: string) => {
      setStack((previous) => [...previous, current ?? '']);
      setCurrent(cursor);
    },
    previous: () => {
      setStack((previous) => {
        const copy = [...previous];
        const back = copy.pop();
        setCurrent(back === '' ? undefined : back);
        return copy;
      });
    },
  };
}

export function Pager({
  page,
  nextCursor,
  onNext,
  onPrevious,
  label,
}: {
  page: number;
  nextCursor: string | undefined;
  onNext: (cursor: string) => void;
  onPrevious: () => void;
  label: string;
}) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={page === 1} onClick={onPrevious}>
        Previous
      </button>
      <span>Page {page}</span>
      <button
        type="button"
        disabled={nextCursor === undefined}
        onClick={() => nextCursor !== undefined && onNext(nextCursor)}
      >
        Next
      </button>
    </nav>
  );
}

export function Field({
  label,
  children,
  hint,
}: {
  label: string;
  children: VNode;
  hint?: string;
}) {
  const hintId = useId();
  return (
    <div class="field">
      {/* biome-ignore lint/a11y/noLabelWithoutControl: the control is the child passed in. */}
      <label>
        <span>{label}</span>
        {hint ? cloneElement(children, { 'aria-describedby': hintId }) : children}
      </label>
      {hint && <small id={hintId}>{hint}</small>}
    </div>
  );
}

/** Empty lists say so, and what would fill them. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/**
 * A form's values as state, so that a live refresh re-rendering the view never resets what the
 * user is typing; reset to `initial` when `resetKey` changes. `bind(name)` wires one control.
 */
export function useDraft(initial: Record<string, string>, resetKey = '') {
  const [draft, setDraft] = useState(initial);
  // Reset only when the key changes, never on mount: the mount's effect runs a frame later, and
  // would wipe what was typed in that frame (a busy machine delays frames; a test fills at once).
  const draftKey = useRef(resetKey);
  useEffect(() => {
    if (draftKey.current === resetKey) return;
    draftKey.current = resetKey;
    setDraft(initial);
  }, [resetKey]);
  const bind = (name: string) => ({
    name,
    value: draft[name] ?? '',
    onInput: (event: Event) => {
      const value = (event.currentTarget as HTMLInputElement).value;
      setDraft((previous) => ({ ...previous, [name]: value }));
    },
  });
  return { draft, bind, setDraft };
}

/**
 * What a view's buttons do: run an action, show what it did in the status line (or why it
 * failed), then `onDone` (reload the view).
 */
export function useActions(onDone: () => void) {
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<unknown>();
  const act = async (run: () => Promise<string>) => {
    setError(undefined);
    try {
      setStatus(await run());
      onDone();
    } catch (failure) {
      setError(failure);
    }
  };
  return { status, error, act };
}

/** A table's column headings. */
export function ColumnHeads({ names }: { names: readonly ComponentChildren[] }) {
  return (
    <thead>
      <tr>
        {names.map((name, index) => (
          <th key={index} scope="col">
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}
