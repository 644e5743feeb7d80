/* The admin-wide live stream, GET /events (Server-Sent Events). EventSource cannot send the
 * Authorization header, so the stream is read with fetch() and a ReadableStream reader. */
/* global fetch, AbortController, TextDecoderStream, setTimeout, clearTimeout */
import { ApiError, authHeaders } from './api.mjs';

/** Waits before each reconnection in a row; the last one repeats. */
const BACKOFF_MS = [1000, 2000, 5000, 10000, 30000];
/** A connection that held this long was fine: the next drop starts the back-off over. */
const STEADY_MS = 30000;
/** No byte for this long (two missed heartbeats at the default SSE_HEARTBEAT_S of 15 s): the connection is dead though not closed. */
const SILENCE_MS = 40000;

/**
 * Turns the stream's text, in chunks cut anywhere, into messages `{event, id, data}` (data as sent,
 * lines joined by "\n"). Comment lines (the heartbeat) and `retry:` are skipped.
 */
function sseParser(onMessage) {
  let buffer = '';
  // A chunk that ended with "\r" may continue with the "\n" of the same line end.
  let skipLineFeed = false;
  let message = { event: '', id: '', data: [] };
  return (chunk) => {
    if (skipLineFeed && chunk.startsWith('\n')) chunk = chunk.slice(1);
    skipLineFeed = chunk.endsWith('\r');
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (message.data.length) onMessage({ event: message.event || 'message', id: message.id, data: message.data.join('\n') });
        message = { event: '', id: '', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') message.data.push(value);
      else if (field === 'event') message.event = value;
      else if (field === 'id') message.id = value;
    }
  };
}

/**
 * Opens the stream and keeps it open: `onUp()` once connected, `onEvent(type, payload)` for each
 * message, `onDown(error)` when it drops; it then reconnects with a back-off until close().
 */
export function openFeed({ onUp, onEvent, onDown }) {
  let closed = false;
  let failures = 0;
  let current = null;
  let retryTimer = null;

  const handle = (message) => {
    let payload;
    try {
      payload = JSON.parse(message.data);
    } catch {
      return; // not ours to read: skip it rather than drop the stream
    }
    onEvent(message.event, payload);
  };

  async function connect() {
    const controller = new AbortController();
    current = controller;
    const { signal } = controller;
    let silence = null;
    const listen = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(new Error('the live feed went silent')), SILENCE_MS);
    };
    let openedAt = 0;
    let reason;
    try {
      listen();
      const res = await fetch('/events', { headers: authHeaders('text/event-stream'), cache: 'no-store', signal });
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      openedAt = Date.now();
      onUp();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parse = sseParser(handle);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        listen();
        parse(value);
      }
      reason = new Error('the live feed ended');
    } catch (error) {
      reason = signal.aborted && signal.reason instanceof Error ? signal.reason : error;
    } finally {
      clearTimeout(silence);
    }
    if (closed) return;
    if (openedAt && Date.now() - openedAt >= STEADY_MS) failures = 0;
    onDown(reason);
    retryTimer = setTimeout(connect, BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]);
    failures += 1;
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      if (current) current.abort();
    },
  };
}
