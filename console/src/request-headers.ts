/**
 * The headers a publish or schedule form sends. `Name: value` lines: an `Upstash-*` header goes
 * as it is (callbacks, labels, dedup ids...), any other is forwarded to the destination as
 * `Upstash-Forward-Name`, the way QStash forwards headers.
 */
export function requestHeaders(lines: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines.split('\n')) {
    const separator = line.indexOf(':');
    if (line.trim() === '') continue;
    if (separator <= 0) throw new Error(`header line "${line.trim()}" needs the form Name: value`);
    const name = line.slice(0, separator).trim();
    const value = line.slice(separator + 1).trim();
    headers[/^upstash-/i.test(name) ? name : `Upstash-Forward-${name}`] = value;
  }
  return headers;
}

/** The form's settings as Upstash headers; empty fields are left out. */
export function settingHeaders(fields: {
  contentType?: string;
  method?: string;
  delay?: string;
  retries?: string;
  callback?: string;
  failureCallback?: string;
  label?: string;
}): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined && value.trim() !== '') headers[name] = value.trim();
  };
  set('Content-Type', fields.contentType);
  set('Upstash-Method', fields.method);
  set('Upstash-Delay', fields.delay);
  set('Upstash-Retries', fields.retries);
  set('Upstash-Callback', fields.callback);
  set('Upstash-Failure-Callback', fields.failureCallback);
  set('Upstash-Label', fields.label);
  return headers;
}

/** A destination as the publish path takes it: a URL raw, a URL group name encoded. */
export function destinationPath(destination: string): string {
  const trimmed = destination.trim();
  return /^https?:\/\//i.test(trimmed) ? trimmed : encodeURIComponent(trimmed);
}
