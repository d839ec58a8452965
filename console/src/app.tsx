import type { TargetedSubmitEvent } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, forgetToken, storedToken, storeToken, whenUnauthorized } from './api';
import { DlqView } from './dlq';
import { tailEvents } from './live';
import { MessageDetailView } from './message-detail';
import { MessagesView } from './messages';
import { PublishView } from './publish';
import { QueuesView } from './queues';
import type { Route } from './router';
import { href, useRoute } from './router';
import { SchedulesView } from './schedules';
import { ErrorNotice, LiveTick, LiveVersion } from './ui';
import { UrlGroupsView } from './url-groups';

const SECTIONS: readonly [path: string, label: string][] = [
  ['/messages', 'Messages'],
  ['/dlq', 'DLQ'],
  ['/schedules', 'Schedules'],
  ['/queues', 'Queues'],
  ['/url-groups', 'URL groups'],
  ['/publish', 'Publish'],
];

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setError(undefined);
    try {
      // Any authenticated read proves the token; this one returns no secrets.
      await api('/v2/console/messages?count=1', { token: token.trim() });
      storeToken(token.trim());
      setToken('');
      onSignedIn();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <main class="sign-in">
      <h1>sqstash console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label class="field">
          <span>Token</span>
          <input
            type="password"
            name="token"
            autoComplete="off"
            required
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
          <small>
            The server's QSTASH_TOKEN. It is kept in this tab only (sessionStorage) and sent only as
            the API's bearer header.
          </small>
        </label>
        <button type="submit">Sign in</button>
      </form>
      <ErrorNotice error={error} />
    </main>
  );
}

function View({ route }: { route: Route }) {
  const detail = /^\/messages\/(.+)$/.exec(route.path);
  if (detail) return <MessageDetailView messageId={decodeURIComponent(detail[1]!)} />;
  switch (route.path) {
    case '/dlq':
      return <DlqView route={route} />;
    case '/schedules':
      return <SchedulesView />;
    case '/queues':
      return <QueuesView />;
    case '/url-groups':
      return <UrlGroupsView />;
    case '/publish':
      return <PublishView />;
    default:
      return <MessagesView route={route} />;
  }
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => storedToken() !== null);
  const [live, setLive] = useState(true);
  const [version, setVersion] = useState(0);
  const [tick, setTick] = useState(0);
  const [liveError, setLiveError] = useState<unknown>();
  const route = useRoute();
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    whenUnauthorized(() => {
      forgetToken();
      setSignedIn(false);
    });
  }, []);
  useEffect(() => {
    if (!signedIn || !live) return;
    return tailEvents((events) => {
      setLiveError(undefined);
      setTick((value) => value + 1);
      if (events.length > 0) setVersion((value) => value + 1);
    }, setLiveError);
  }, [signedIn, live]);
  // A new view takes the focus to its content, as a page load would for a screen reader.
  useEffect(() => {
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.setAttribute('tabindex', '-1');
    heading?.focus();
  }, [route.path]);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const section = `/${route.path.split('/')[1] ?? ''}`;
  return (
    <LiveVersion.Provider value={version}>
      <LiveTick.Provider value={tick}>
        <button type="button" class="skip" onClick={() => main.current?.focus()}>
          Skip to content
        </button>
        <header>
          <strong class="brand">sqstash</strong>
          <nav aria-label="Sections">
            <ul>
              {SECTIONS.map(([path, label]) => (
                <li key={path}>
                  <a href={href(path)} aria-current={section === path ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <label class="live">
            <input
              type="checkbox"
              checked={live}
              onChange={(event) => setLive(event.currentTarget.checked)}
            />
            Live updates
          </label>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              forgetToken();
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </header>
        <main id="content" ref={main} tabIndex={-1}>
          {liveError ? <ErrorNotice error={liveError} /> : null}
          <View route={route} />
        </main>
      </LiveTick.Provider>
    </LiveVersion.Provider>
  );
}
