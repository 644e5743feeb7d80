import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { findFreePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded';
import { createLogger } from '../src/shared/logger';
import { TokenService } from '../src/modules/auth';
import { ROOT_DIR } from '../src/shared/paths';

/** A database for a benchmark: a fresh one on DATABASE_URL's server, or an embedded one in a temp dir. */
export async function benchDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `orderloop_bench_${Date.now().toString(36)}`;
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderloop-bench-pg-'));
    fs.chmodSync(dir, 0o755);
    // pg_stat_statements counts the round trips per order (bench/db-work.ts).
    embedded = await startEmbeddedPostgres({
      dataDir: dir,
      logger: createLogger('silent'),
      database: 'postgres',
      postgresFlags: ['-c', 'shared_preload_libraries=pg_stat_statements'],
    });
    adminUrl = embedded.url;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  return {
    url: url.toString(),
    stop: async () => {
      await adminQuery(adminUrl!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await embedded?.stop();
    },
  };
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

/** The service and the benchmark share this key, so the benchmark can sign its own admin token. */
export const BENCH_JWT_SECRET = `bench-${randomBytes(24).toString('hex')}`;

export function adminToken(): Promise<string> {
  return new TokenService(BENCH_JWT_SECRET, 24 * 3600).issue({ clientId: 'bench-admin', role: 'admin', customerId: null });
}

export interface ServiceProcess {
  baseUrl: string;
  paymentUrl: string;
  child: ChildProcess;
  peakRssMb(): number;
  stop(): Promise<number | null>;
}

/** The `--flags` of package.json's start script, so the bench runs the service as `npm start` does. */
function startScriptNodeFlags(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'package.json'), 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/**
 * Starts `node dist/src/main.js` with the given env and waits for /ready (a ROLE=worker process has
 * no HTTP: it is given a few seconds to start its pollers); samples its RSS from /proc.
 */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await findFreePort();
  const paymentPort = await findFreePort();
  const warehousePort = await findFreePort();
  // Node's flags as `npm start` gives them (the heap limit); BENCH_NODE_ARGS adds more, e.g.
  // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the service.
  const nodeArgs = [...startScriptNodeFlags(), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT_DIR, 'dist/src/main.js')], {
    cwd: ROOT_DIR,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      PAYMENT_MOCK_PORT: String(paymentPort),
      WAREHOUSE_MOCK_PORT: String(warehousePort),
      PAYMENT_FAILURE_RATE: '0',
      PAYMENT_DECLINE_RATE: '0',
      PAYMENT_LOST_RESPONSE_RATE: '0',
      PAYMENT_LATENCY_MS: '0',
      RATE_LIMIT_ORDERS_PER_MINUTE: '0',
      // The webhook scenario's receiver listens on 127.0.0.1 in the bench process.
      WEBHOOK_ALLOW_PRIVATE: 'true',
      JWT_SECRET: BENCH_JWT_SECRET,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb / 1024);
    } catch {
      // process gone or not Linux
    }
  }, 200);
  const deadline = Date.now() + 60_000;
  if (env.ROLE === 'worker') {
    await new Promise((r) => setTimeout(r, 4000));
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} while starting`);
  }
  while (env.ROLE !== 'worker') {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${baseUrl}/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('service not ready within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    paymentUrl: `http://127.0.0.1:${paymentPort}`,
    child,
    peakRssMb: () => Math.round(peak),
    stop: () =>
      new Promise((resolve) => {
        clearInterval(sampler);
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}

export function printTable(rows: Array<Record<string, string | number | null>>): void {
  console.table(rows);
}

/**
 * The mock payment provider in a process of its own, as a real provider is (inside the service its
 * answers queue behind the service's own work, and its server is traced with it); `env` sets its
 * behaviour (PAYMENT_LATENCY_MS, PAYMENT_FAILURE_RATE...). No declines or lost responses unless set.
 */
export async function startPaymentMockProcess(env: Record<string, string> = {}): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const port = await findFreePort();
  const child = spawn(process.execPath, [path.join(ROOT_DIR, 'dist/src/mocks/run.js'), 'payments'], {
    cwd: ROOT_DIR,
    env: { ...process.env, PAYMENT_DECLINE_RATE: '0', PAYMENT_LOST_RESPONSE_RATE: '0', LOG_LEVEL: 'warn', ...env, PAYMENT_MOCK_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the payment mock exited with ${code} while starting`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
