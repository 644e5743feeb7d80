import { spawn } from 'node:child_process';
import net from 'node:net';

export interface StalledServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A host that never completes a TCP handshake, as a provider behind a full accept queue or a
 * firewall that drops packets: a stopped process listening with a backlog of one, its queue
 * filled, so the kernel drops every further SYN and the caller waits in SYN-SENT.
 */
export async function startStalledServer(): Promise<StalledServer> {
  const child = spawn(process.execPath, [
    '-e',
    `require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { process.stdout.write(String(this.address().port) + '\\n'); });`,
  ]);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim())));
    child.once('exit', (code) => reject(new Error(`the stalled server exited with ${code}`)));
  });
  child.kill('SIGSTOP');
  // Fill the accept queue: these handshakes complete in the kernel, later ones are dropped.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i += 1) {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
