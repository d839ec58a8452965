import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`#/messages?status=failed`): the server serves one page at `/`, and a view's
 * filters live in the address, so a reload or a shared link opens the same view.
 */
export type Route = { readonly path: string; readonly params: URLSearchParams };

function currentRoute(): Route {
  const hash = window.location.hash.replace(/^#/, '') || '/messages';
  const [path = '/messages', search = ''] = hash.split('?', 2);
  return { path, params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** The href of a route, with the params that are set. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return `#${path}${text === '' ? '' : `?${text}`}`;
}

export function navigate(path: string, params: Record<string, string | undefined> = {}): void {
  window.location.hash = href(path, params);
}
