/** A Server-Sent Events client over fetch, for tests: what a browser's EventSource would see, frame by frame. */
export interface SseMessage {
  event: string;
  id: string | null;
  data: unknown;
}

export interface SseStream {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  /** Comment lines received (heartbeats). */
  comments: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Resolves with the messages once `check` holds for them; rejects after `timeoutMs`. */
  waitFor(check: (messages: SseMessage[]) => boolean, timeoutMs?: number): Promise<SseMessage[]>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  const stream: SseStream = {
    status: res.status,
    headers: res.headers,
    messages,
    comments: 0,
    ended: Promise.resolve(),
    waitFor: (check, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const test = () => {
          if (!check(messages)) return false;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(messages);
          return true;
        };
        const waiter = () => void test();
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`SSE condition not met within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => [m.event, m.id]))}`));
        }, timeoutMs);
        if (!test()) waiters.add(waiter);
      }),
    close: () => controller.abort(),
  };
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    stream.ended = Promise.resolve();
    return stream;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  stream.ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let id: string | null = null;
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) stream.comments += 1;
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) messages.push({ event, id, data: JSON.parse(data.join('\n')) });
          for (const waiter of [...waiters]) waiter();
        }
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  })();
  return stream;
}
