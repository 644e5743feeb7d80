import net from 'node:net';

/**
 * A free TCP port below the kernel's ephemeral range (Linux: 32768–60999, macOS: 49152–65535).
 * A port the OS handed out (listen on 0) can be handed out again to a child's own `listen(0)` or
 * an outgoing connection before the child binds it; one from below that range is never handed out.
 */
const LOW = 20_000;
const SPAN = 12_000;
// Each Jest worker draws from its own slice, so two test files cannot pick the same port at once.
const WORKERS = 8;
const SLICE = SPAN / WORKERS;
const slice = (Number(process.env.JEST_WORKER_ID ?? 1) - 1) % WORKERS;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    // No host: the dual-stack wildcard, so a port taken on any address counts as taken.
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

export async function freeTestPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = LOW + slice * SLICE + Math.floor(Math.random() * SLICE);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
