import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT_DIR } from '../src/shared/paths';
import { benchDatabase, printTable, startServiceProcess, type ServiceProcess } from './harness';

const run = promisify(execFile);

/**
 * npm run bench:token-flood — what a flood of POST /auth/token does to real sign-ins.
 *
 * A ROLE=api service (TRUST_PROXY=loopback, so X-Forwarded-For names the "address") on a fresh
 * database (DATABASE_URL's server, or an embedded PostgreSQL); a real client created with
 * clients:create. A sampler signs that client in every 200 ms, each time from one of 30
 * addresses (10/min each, under the per-address limit); a flood of wrong secrets for an unknown
 * client comes from one address at BENCH_FLOOD_RATE req/s (default 400), sent by autocannon in a
 * process of its own so it does not slow the sampler's own timing. Each phase lasts
 * BENCH_FLOOD_S seconds (default 15). Scenarios:
 *   1. defaults, no flood;  2. defaults, flood;
 *   3. flood with the per-address and per-client limits off (the cap on verifications at once still on);
 *   4. flood with the limits off and the cap at its maximum (64): about the service before issue #13.
 * Prints the sampler's p50/p99 and status counts, and the flood's status counts, per scenario.
 */

const PHASE_S = Number(process.env.BENCH_FLOOD_S ?? 15);
const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 400);
const SAMPLE_EVERY_MS = 200;
const SAMPLER_ADDRESSES = 30;
const FLOOD_ADDRESS = '10.9.9.9';

interface Sample {
  ms: number;
  status: number;
}

async function createRealClient(databaseUrl: string): Promise<{ clientId: string; secret: string }> {
  const { stdout } = await run(process.execPath, [path.join(ROOT_DIR, 'dist/src/cli/clients-create.js'), '--role', 'customer', '--customer', 'cust_bench', '--id', 'bench-shop'], {
    cwd: ROOT_DIR,
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
  const secret = /client_secret: (\S+)/.exec(stdout)?.[1];
  if (!secret) throw new Error(`clients:create printed no secret:\n${stdout}`);
  return { clientId: 'bench-shop', secret };
}

/** Signs the real client in every SAMPLE_EVERY_MS for `seconds`, each from the next sampler address. */
async function sampleSignIns(baseUrl: string, client: { clientId: string; secret: string }, seconds: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const inFlight: Promise<void>[] = [];
  const body = JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret });
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i += 1) {
    const started = performance.now();
    inFlight.push(
      fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.1.0.${(i % SAMPLER_ADDRESSES) + 1}` },
        body,
      })
        .then(async (res) => {
          await res.arrayBuffer();
          samples.push({ ms: performance.now() - started, status: res.status });
        })
        .catch(() => {
          samples.push({ ms: performance.now() - started, status: 0 });
        }),
    );
    await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
  }
  await Promise.all(inFlight);
  return samples;
}

/** autocannon's CLI at a fixed overall rate: wrong secrets for an unknown client from FLOOD_ADDRESS. Resolves to its status counts. */
function flood(baseUrl: string, seconds: number): Promise<{ sent: number; statuses: Record<string, number> }> {
  const args = [
    path.join(ROOT_DIR, 'node_modules/autocannon/autocannon.js'),
    '-c', '50', '-R', String(FLOOD_RATE), '-d', String(seconds), '-m', 'POST', '-j',
    '-H', 'content-type=application/json', '-H', `x-forwarded-for=${FLOOD_ADDRESS}`,
    '-b', JSON.stringify({ grant_type: 'client_credentials', client_id: 'flood-unknown', client_secret: 'wrong-secret' }),
    `${baseUrl}/auth/token`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', () => {
      try {
        const result = JSON.parse(out) as { requests: { sent: number }; statusCodeStats?: Record<string, { count: number }>; errors: number };
        const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]));
        if (result.errors) statuses.errors = result.errors;
        resolve({ sent: result.requests.sent, statuses });
      } catch {
        reject(new Error(`autocannon printed no JSON result:\n${out.slice(0, 500)}`));
      }
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const counts = (values: Array<string | number>) =>
  Object.entries(values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {}))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');

function row(scenario: string, samples: Sample[], flooded?: { sent: number; statuses: Record<string, number> }) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    scenario,
    'sign-ins': samples.length,
    'p50 ms': Math.round(percentile(ms, 50) * 10) / 10,
    'p99 ms': Math.round(percentile(ms, 99) * 10) / 10,
    'max ms': Math.round(ms[ms.length - 1] * 10) / 10,
    'sign-in statuses': counts(samples.map((s) => s.status)),
    'flood req/s': flooded ? Math.round(flooded.sent / PHASE_S) : 0,
    'flood statuses': flooded ? Object.entries(flooded.statuses).map(([k, n]) => `${k}: ${n}`).join(', ') : '-',
  };
}

async function scenario(
  databaseUrl: string,
  client: { clientId: string; secret: string },
  env: Record<string, string>,
  phases: Array<{ name: string; flood: boolean }>,
): Promise<ReturnType<typeof row>[]> {
  const service: ServiceProcess = await startServiceProcess({ ROLE: 'api', DATABASE_URL: databaseUrl, TRUST_PROXY: 'loopback', ...env });
  try {
    const rows = [];
    for (const phase of phases) {
      const [samples, flooded] = await Promise.all([
        sampleSignIns(service.baseUrl, client, PHASE_S),
        phase.flood ? flood(service.baseUrl, PHASE_S) : Promise.resolve(undefined),
      ]);
      rows.push(row(phase.name, samples, flooded));
      // Let the flood's connections drain before the next phase.
      await new Promise((r) => setTimeout(r, 1000));
    }
    return rows;
  } finally {
    await service.stop();
  }
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  try {
    // The first service applies the migrations; the client is created after that.
    const first = await startServiceProcess({ ROLE: 'api', DATABASE_URL: database.url });
    await first.stop();
    const client = await createRealClient(database.url);
    console.log(`token flood: ${PHASE_S} s per phase, sampler every ${SAMPLE_EVERY_MS} ms from ${SAMPLER_ADDRESSES} addresses, flood ${FLOOD_RATE} req/s from ${FLOOD_ADDRESS}`);
    const limitsOff = { RATE_LIMIT_TOKEN_PER_IP_PER_MINUTE: '0', RATE_LIMIT_TOKEN_FAILURES_PER_CLIENT_PER_MINUTE: '0' };
    const rows = [
      ...(await scenario(database.url, client, {}, [
        { name: 'defaults, no flood', flood: false },
        { name: 'defaults, flood', flood: true },
      ])),
      ...(await scenario(database.url, client, limitsOff, [{ name: 'limits off, cap 4 (default), flood', flood: true }])),
      ...(await scenario(database.url, client, { ...limitsOff, TOKEN_MAX_CONCURRENT_VERIFICATIONS: '64' }, [{ name: 'limits off, cap 64, flood', flood: true }])),
    ];
    printTable(rows);
  } finally {
    await database.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
