/* The JSON API, called with the admin token this tab holds. */
/* global fetch */

/** Who is signed in: the token lives here and in sessionStorage (main.mjs), so in this tab only. */
export const session = { token: null, clientId: null };

let sessionEnded = () => {};
/** What to do when the API answers 401 to a signed-in page (main.mjs signs out). */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || 'HTTP ' + status);
    this.status = status;
    this.body = body;
  }
}

/** The headers every call sends; also used by the event stream (feed.mjs). */
export function authHeaders(accept) {
  const headers = { Accept: accept || 'application/json' };
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  return headers;
}

/** Calls the API; resolves with the JSON body, rejects with an ApiError for any status but 2xx. */
export async function api(path, options = {}) {
  const headers = authHeaders();
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method || 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: 'no-store',
  });
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (res.status === 401 && session.token) sessionEnded();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}
