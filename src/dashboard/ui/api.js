// The control plane's JSON API as the dashboard reads it (same origin: the page is served by the API).

/** GETs `path` and returns its JSON; a failure throws an Error carrying the API's WEFT_* code and message. */
export async function get(path, signal) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, signal });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = body?.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `${path} answered ${res.status}`);
  }
  return body;
}

/** The time range chosen in the header (`1m`, `5m`, ...). */
export function currentWindow() {
  return document.getElementById('window').value;
}
