/** The console API and its event stream, as the page talks to them. */
import type { WireChange, WireError } from '../wire';

/**
 * GET `path` (or POST `body` as JSON) and the JSON answer, typed as the caller expects it
 * (local/console/wire.ts; app.ts declares its answers with the same types). A refusal throws
 * its message.
 */
export async function api<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${path} answered ${response.status} with no JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const message = (value as Partial<WireError> | null)?.message;
    throw new Error(typeof message === 'string' ? message : `${path} answered ${response.status}`);
  }
  return value as T;
}

export interface StreamHandlers {
  readonly open: () => void;
  readonly error: () => void;
  readonly change: (change: WireChange) => void;
}

/** Follows `/api/stream` (the browser reconnects by itself after an error). */
export function watchChanges(handlers: StreamHandlers): EventSource {
  const events = new EventSource('/api/stream');
  events.addEventListener('open', handlers.open);
  events.addEventListener('error', handlers.error);
  events.addEventListener('change', (message: MessageEvent<string>) => {
    handlers.change(JSON.parse(message.data) as WireChange);
  });
  return events;
}
