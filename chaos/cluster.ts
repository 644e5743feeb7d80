import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { findFreePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { createLogger } from '../src/shared/logger';
import { ROOT_DIR } from '../src/shared/paths';

/**
 * Real processes for the chaos scenarios: a database of the scenario's own (an embedded
 * PostgreSQL in a temp dir that can be stopped and started again on the same port and data
 * dir, or a fresh database on CHAOS_ADMIN_URL's server), orderloop processes by role, the two
 * mocks as processes, and the admin token. Every process logs to a file in the scenario's dir.
 */

export const DIST = path.join(ROOT_DIR, 'dist', 'src');
export const JWT_SECRET = 'chaos-jwt-secret-that-is-long-enough-0123456789';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // As root, the embedded server runs as the postgres OS user, which must be able to enter it.
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** A minimal environment: nothing from the caller's shell (DATABASE_URL, PAYMENT_*, …) leaks into a child. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    if (process.env[key]) env[key] = process.env[key]!;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Database

export interface ChaosDatabase {
  url: string;
  /** Embedded only: the server can be stopped and started again (same port, same data dir). */
  embedded: boolean;
  port: number;
  pool: Pool;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The scenario's own database. Embedded unless CHAOS_ADMIN_URL names a server (and the scenario
 * does not need to stop the server itself).
 */
export async function createDatabase(dir: string, options: { mustBeEmbedded?: boolean } = {}): Promise<ChaosDatabase> {
  const adminUrl = process.env.CHAOS_ADMIN_URL;
  const logger = createLogger('silent');
  if (adminUrl && !options.mustBeEmbedded) {
    const name = `orderloop_chaos_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
    await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pool = makePool(url.toString());
    return {
      url: url.toString(),
      embedded: false,
      port: Number(url.port || 5432),
      pool,
      stopServer: async () => {
        throw new Error('CHAOS_ADMIN_URL database: the server cannot be stopped by the scenario');
      },
      startServer: async () => undefined,
      close: async () => {
        await pool.end().catch(() => undefined);
        await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      },
    };
  }

  const dataDir = path.join(dir, 'postgres');
  const port = await findFreePort();
  let server: EmbeddedDatabase | null = await startEmbeddedPostgres({ dataDir, logger, port });
  const url = server.url;
  const pool = makePool(url);
  return {
    url,
    embedded: true,
    port,
    pool,
    stopServer: async () => {
      const running = server;
      server = null;
      await running?.stop();
    },
    startServer: async () => {
      if (!server) server = await startEmbeddedPostgres({ dataDir, logger, port });
    },
    close: async () => {
      await pool.end().catch(() => undefined);
      const running = server;
      server = null;
      await running?.stop();
    },
  };
}

function makePool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 5_000 });
  // An idle client whose server went away must not crash the runner.
  pool.on('error', () => undefined);
  return pool;
}

export async function adminQuery(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export async function rows<T>(pool: Pool, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await pool.query(sql, params)).rows as T[];
}

// ---------------------------------------------------------------------------------------------
// Processes

export type Role = 'api' | 'worker' | 'all';

export interface ChaosProcess {
  readonly name: string;
  readonly role: Role | 'mock';
  readonly port?: number;
  readonly url?: string;
  readonly logFile: string;
  pid(): number | undefined;
  running(): boolean;
  /** SIGKILL, no warning, no clean-up: what a crashed machine or the OOM killer does. */
  kill9(): Promise<void>;
  /** SIGSTOP: the process freezes where it is (a long GC pause, a frozen VM); its sockets stay open. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`); resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Starts the process again with the same settings and waits until it is ready. */
  restart(): Promise<void>;
  /** Last lines of its output, for failure messages. */
  tail(lines?: number): string;
}

interface SpawnSpec {
  name: string;
  role: Role | 'mock';
  args: string[];
  env: Record<string, string>;
  port?: number;
  /** Resolves when the process is ready to work. */
  ready: (proc: RunningChild) => Promise<void>;
}

interface RunningChild {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts processes for one scenario; `stopAll` ends every one of them. */
export class Cluster {
  private readonly processes: ChaosProcess[] = [];
  readonly cwd: string;

  constructor(
    readonly dir: string,
    readonly databaseUrl: string,
    /** Settings every orderloop process of the scenario shares. */
    readonly sharedEnv: Record<string, string>,
  ) {
    // No .env file is read from here (dotenv looks in the working directory).
    this.cwd = path.join(dir, 'cwd');
    fs.mkdirSync(this.cwd, { recursive: true });
  }

  /** An orderloop process (`node dist/src/main.js`) with ROLE=role; waits for /ready (api, all) or the worker's start line. */
  async service(name: string, role: Role, env: Record<string, string> = {}): Promise<ChaosProcess> {
    const port = role === 'worker' ? undefined : await findFreePort();
    const dataDir = path.join(this.dir, `data-${name}`);
    return this.spawnProcess({
      name,
      role,
      args: [path.join(DIST, 'main.js')],
      port,
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        JWT_SECRET,
        RATE_LIMIT_ORDERS_PER_MINUTE: '0',
        SHUTDOWN_TIMEOUT_MS: '8000',
        // No scheduled inventory sync during a scenario (scenario 5 triggers its own).
        INVENTORY_SYNC_CRON: '0 0 1 1 *',
        ...this.sharedEnv,
        ...env,
        ROLE: role,
        DATABASE_URL: this.databaseUrl,
        DATA_DIR: dataDir,
        ...(port ? { PORT: String(port) } : {}),
      },
      ready: role === 'worker' ? (p) => waitForOutput(p, 'orderloop worker started', 60_000) : (p) => waitForReady(p, `http://127.0.0.1:${port}`, 60_000),
    });
  }

  /** `node dist/src/mocks/run.js payments|warehouse` on a free port. */
  async mock(kind: 'payments' | 'warehouse', env: Record<string, string> = {}): Promise<ChaosProcess> {
    const port = await findFreePort();
    return this.spawnProcess({
      name: `mock-${kind}`,
      role: 'mock',
      args: [path.join(DIST, 'mocks', 'run.js'), kind],
      port,
      env: {
        ...env,
        [kind === 'payments' ? 'PAYMENT_MOCK_PORT' : 'WAREHOUSE_MOCK_PORT']: String(port),
      },
      ready: (p) => waitForOutput(p, 'listening on', 20_000),
    });
  }

  private async spawnProcess(spec: SpawnSpec): Promise<ChaosProcess> {
    const logFile = path.join(this.dir, `${spec.name}.log`);
    let current: RunningChild | null = null;
    let generation = 0;

    const launch = async () => {
      generation += 1;
      const log = fs.createWriteStream(logFile, { flags: 'a' });
      log.write(`\n===== ${new Date().toISOString()} start #${generation}: ${spec.name} (${spec.role}) =====\n`);
      const child = spawn(process.execPath, spec.args, { cwd: this.cwd, env: { ...baseEnv(), ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let recent = '';
      const keep = (chunk: Buffer) => {
        log.write(chunk);
        recent = (recent + chunk.toString('utf8')).slice(-200_000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code, signal) => {
          log.end(`\n===== exit code ${code} signal ${signal} =====\n`);
          resolve(code);
        });
        child.once('error', (error) => {
          keep(Buffer.from(`[spawn error] ${error.message}\n`));
          resolve(null);
        });
      });
      const running: RunningChild = { child, output: () => recent, exited };
      current = running;
      try {
        await spec.ready(running);
      } catch (error) {
        child.kill('SIGKILL');
        throw new Error(`${spec.name}: ${(error as Error).message}\n--- last output (${logFile}) ---\n${lastLines(recent, 30)}`, { cause: error });
      }
    };

    const isRunning = () => current !== null && current.child.exitCode === null && current.child.signalCode === null;
    let paused = false;
    const handle: ChaosProcess = {
      name: spec.name,
      role: spec.role,
      port: spec.port,
      url: spec.port ? `http://127.0.0.1:${spec.port}` : undefined,
      logFile,
      pid: () => current?.child.pid,
      running: isRunning,
      kill9: async () => {
        if (!current || !isRunning()) return;
        current.child.kill('SIGKILL');
        await current.exited;
      },
      pause: () => {
        if (current && isRunning()) {
          current.child.kill('SIGSTOP');
          paused = true;
        }
      },
      resume: () => {
        if (current && isRunning()) current.child.kill('SIGCONT');
        paused = false;
      },
      stop: async (timeoutMs = 10_000) => {
        if (!current) return null;
        if (!isRunning()) return current.child.exitCode;
        // A paused process would not act on SIGTERM.
        if (paused) handle.resume();
        current.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          current.exited,
          new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (code === 'timeout') {
          current.child.kill('SIGKILL');
          await current.exited;
          throw new Error(`${spec.name} did not stop within ${timeoutMs} ms of SIGTERM`);
        }
        return code;
      },
      restart: async () => {
        if (isRunning()) throw new Error(`${spec.name} is still running`);
        await launch();
      },
      tail: (lines = 30) => lastLines(current?.output() ?? '', lines),
    };
    this.processes.push(handle);
    await launch();
    return handle;
  }

  /** Stops every process (SIGTERM, then SIGKILL); reports the ones that did not exit cleanly. */
  async stopAll(): Promise<string[]> {
    const problems: string[] = [];
    // Services before mocks, so a worker's last call does not meet a closed mock.
    const ordered = [...this.processes].sort((a, b) => Number(a.role === 'mock') - Number(b.role === 'mock'));
    for (const proc of ordered) {
      try {
        const code = await proc.stop(12_000);
        if (code !== 0 && code !== null) problems.push(`${proc.name} exited with code ${code}`);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return problems;
  }
}

function lastLines(text: string, count: number): string {
  return text.split('\n').slice(-count - 1).join('\n');
}

async function waitForOutput(proc: RunningChild, needle: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.output().includes(needle)) return;
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`exited (${proc.child.exitCode ?? proc.child.signalCode}) before "${needle}"`);
    await sleep(100);
  }
  throw new Error(`no "${needle}" within ${timeoutMs} ms`);
}

async function waitForReady(proc: RunningChild, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`exited (${proc.child.exitCode ?? proc.child.signalCode}) before /ready`);
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(3_000) });
      if (res.status === 200) return;
      last = `${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(150);
  }
  throw new Error(`not ready within ${timeoutMs} ms (last: ${last})`);
}

// ---------------------------------------------------------------------------------------------
// Command-line tools, run as an operator would

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(script: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(DIST, script), ...args], { cwd, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `clients-create --role admin`, then POST /auth/token: the bearer token the scenario acts with. */
export async function adminToken(cluster: Cluster, apiUrl: string, clientId = 'chaos-admin'): Promise<string> {
  return clientToken(cluster, apiUrl, ['--role', 'admin', '--id', clientId]);
}

/** A customer client bound to `customerId`, and its token. */
export async function customerToken(cluster: Cluster, apiUrl: string, customerId: string): Promise<string> {
  return clientToken(cluster, apiUrl, ['--role', 'customer', '--customer', customerId, '--id', `chaos-${customerId}`]);
}

async function clientToken(cluster: Cluster, apiUrl: string, args: string[]): Promise<string> {
  const created = await runTool('cli/clients-create.js', args, { DATABASE_URL: cluster.databaseUrl, LOG_LEVEL: 'warn' }, cluster.cwd);
  const secret = /client_secret:\s*(\S+)/.exec(created.stdout)?.[1];
  const clientId = /client_id:\s*(\S+)/.exec(created.stdout)?.[1];
  if (created.code !== 0 || !secret || !clientId) {
    throw new Error(`clients-create ${args.join(' ')} failed (exit ${created.code}): ${created.stdout}${created.stderr}`);
  }
  const res = await fetch(`${apiUrl}/auth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, client_secret: secret }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`POST /auth/token answered ${res.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** `node dist/src/cli/inventory-check.js` against the scenario's database: exit 0 and nothing to fix. */
export async function inventoryCheck(cluster: Cluster): Promise<{ ok: boolean; summary: string; output: string }> {
  const result = await runTool('cli/inventory-check.js', [], { DATABASE_URL: cluster.databaseUrl, LOG_LEVEL: 'warn' }, cluster.cwd);
  const output = `${result.stdout}${result.stderr}`.trim();
  const ok = result.code === 0 && /every invariant holds/.test(result.stdout);
  return { ok, summary: ok ? 'nothing to fix' : `exit ${result.code}: ${output.split('\n')[0]}`, output };
}
