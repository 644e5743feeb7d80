import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { startPaymentProviderMock } from '../src/mocks/payment-provider';
import { startWarehouseMock } from '../src/mocks/warehouse';
import { ROOT_DIR } from '../src/shared/paths';
import { countStatements, DatabaseCounters, measureIdleCost, ROUND_TRIPS_UNAVAILABLE } from './db-work';
import { benchDatabase, startServiceProcess, waitUntil, type ServiceProcess } from './harness';
import { assertInvariants } from './invariants';
import { postOrders, runOrderBenchmarks } from './orders';
import { formatSample, runSustained, sustainedRows, sustainedSeconds } from './sustained';
import { runTracingBenchmark, tracingRows, tracingSequence, tracingSettings } from './tracing';
import { printTopStatements, runWebhookBenchmark, webhookRows } from './webhooks';

const run = promisify(execFile);

/**
 * `npm run bench [-- --workers N] [-- --skip-sustained] [-- --skip-tracing]`: one command for
 * every figure. Starts the service (payment latency 0, failure rate 0, rate limit off) on a fresh
 * database (DATABASE_URL's server, or an embedded PostgreSQL), runs each scenario and checks the
 * invariants after it, measures the service's database work per order and its cost while idle,
 * then the sustained scenario in a service of its own (realistic provider; BENCH_SUSTAINED_S
 * shortens it), then end to end with tracing off and on (bench/tracing.ts: one ROLE=all service
 * and one database per run, off, on, on, off, off, on; BENCH_TRACING_ORDERS, BENCH_TRACING_ROUNDS), prints a
 * table with each figure also as a ratio to the database's own pgbench TPS, and writes
 * bench/results/latest.json.
 */

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The sustained scenario's arrival rate, as a share of the end-to-end rate of the same run: below what the service can do. */
const SUSTAINED_SHARE_OF_END_TO_END = 0.8;

/** TPC-B-like TPS of the same server (8 clients, 15 s), the yardstick every figure is divided by. */
async function pgbenchTps(adminUrl: string): Promise<number | null> {
  if (spawnSync('pgbench', ['--version']).status !== 0) return null;
  const db = new Client({ connectionString: adminUrl });
  await db.connect();
  const name = `orderloop_pgbench_${Date.now().toString(36)}`;
  await db.query(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    await run('pgbench', ['-i', '-q', '-s', '10', url.toString()], { maxBuffer: 1 << 24 });
    const { stdout } = await run('pgbench', ['-c', '8', '-j', '2', '-T', '15', url.toString()], { maxBuffer: 1 << 24 });
    const tps = /tps = ([\d.]+)/.exec(stdout);
    return tps ? Math.round(Number(tps[1])) : null;
  } finally {
    await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await db.end();
  }
}

async function flakyPayments(db: Client, service: { baseUrl: string; paymentUrl: string }, orders: number) {
  await fetch(`${service.paymentUrl}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ failureRate: 0.3 }),
  });
  await db.query(`INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold) VALUES ('BENCH-FLAKY', 'Flaky', 700, 'EUR', 10000000, 0)`);
  const start = new Date();
  await postOrders(service.baseUrl, orders, 32, ['BENCH-FLAKY']);
  await waitUntil(async () => {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "Orders" WHERE status IN ('pending', 'reserved') AND created_at >= $1`, [start]);
    return rows[0].n === 0;
  }, 600_000, 250);
  const { rows: [r] } = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, avg(payment_attempts)::float AS attempts,
            extract(epoch FROM max(updated_at) - $1::timestamptz)::float AS seconds
     FROM "Orders" WHERE created_at >= $1`,
    [start],
  );
  await fetch(`${service.paymentUrl}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failureRate: 0 }) });
  return { ordersPerSec: Math.round(r.completed / r.seconds), attemptsPerOrder: Number(Number(r.attempts).toFixed(2)), completed: r.completed, seconds: Number(Number(r.seconds).toFixed(1)) };
}

/** `node dist/bench/sync.js` on its own database; its summary line gives SKUs and seconds. */
async function syncBenchmark(): Promise<{ skus: number; seconds: number } | null> {
  const { stdout } = await run(process.execPath, [path.join(ROOT_DIR, 'dist/bench/sync.js')], { cwd: ROOT_DIR, maxBuffer: 1 << 24 }).catch((e) => e);
  const m = /(\d+) SKUs in .*?([\d.]+) s total/.exec(String(stdout));
  return m ? { skus: Number(m[1]), seconds: Number(m[2]) } : null;
}

async function main(): Promise<void> {
  const workers = Number(argValue('--workers') ?? 0);
  const skipSustained = process.argv.includes('--skip-sustained');
  const skipTracing = process.argv.includes('--skip-tracing');
  const database = await benchDatabase();
  const adminUrl = (() => {
    const u = new URL(database.url);
    u.pathname = '/postgres';
    return u.toString();
  })();
  const db = new Client({ connectionString: database.url });
  // Every statement the bench sends is counted, to subtract it from the server's counters.
  const benchStatements = countStatements(db);
  const processes: ServiceProcess[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  try {
    process.stdout.write('pgbench (8 clients, 15 s) …\n');
    const pgbench = await pgbenchTps(adminUrl);

    // Service speed settings: quick retries so the flaky scenario measures throughput, not sleeping.
    const common = { PAYMENT_TIMEOUT_MS: '500', PAYMENT_RETRY_DELAY_S: '1', PAYMENT_MAX_ATTEMPTS: '5', DATABASE_URL: database.url };
    let service: { baseUrl: string; paymentUrl: string };
    if (workers > 0) {
      const payments = await startPaymentProviderMock({ failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: 0, hangMs: 1000 }, 0);
      const warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0);
      closers.push(() => payments.close(), () => warehouse.close());
      const external = { ...common, PAYMENT_PROVIDER_URL: payments.url, WAREHOUSE_URL: warehouse.url };
      const api = await startServiceProcess({ ...external, ROLE: 'api' });
      processes.push(api);
      for (let i = 0; i < workers; i += 1) processes.push(await startServiceProcess({ ...external, ROLE: 'worker' }));
      service = { baseUrl: api.baseUrl, paymentUrl: payments.url };
    } else {
      const all = await startServiceProcess({ ...common, ROLE: 'all' });
      processes.push(all);
      service = all;
    }
    await db.connect();
    const counters = await DatabaseCounters.open(db, benchStatements);

    process.stdout.write('orders: intake, end to end, hot SKU …\n');
    const { intake, endToEnd, hotSku } = await runOrderBenchmarks(db, service.baseUrl, { orders: 5000, hotOrders: 1000, hotStock: 500, counters });
    process.stdout.write('webhooks: end to end (5,000 orders) without an endpoint, then with one for every event …\n');
    const webhooks = await runWebhookBenchmark(db, service.baseUrl, {
      orders: 5000,
      counters,
      servicePids: processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined),
    });
    process.stdout.write('flaky payments (2,000 orders, failure rate 0.3) …\n');
    const flaky = await flakyPayments(db, service, 2000);
    await assertInvariants(db, 'flaky payments');
    process.stdout.write('idle cost (15 s to settle while the flaky scenario ends its last retries, then 20 s without orders) …\n');
    const idle = await measureIdleCost(counters, processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined));
    const peakRssMb = Math.max(...processes.map((p) => p.peakRssMb()));
    for (const p of processes) await p.stop();
    processes.length = 0;

    let sustained: Awaited<ReturnType<typeof runSustained>> | null = null;
    if (!skipSustained) {
      const ratePerSec = Math.max(1, Math.round(SUSTAINED_SHARE_OF_END_TO_END * endToEnd.ordersPerSec));
      const seconds = sustainedSeconds();
      process.stdout.write(`sustained: ${ratePerSec} orders/s (${SUSTAINED_SHARE_OF_END_TO_END} × end to end) for ${seconds} s, realistic provider, own service …\n`);
      sustained = await runSustained({ databaseUrl: database.url, ratePerSec, seconds });
      await assertInvariants(db, 'sustained');
    }

    let tracing: Awaited<ReturnType<typeof runTracingBenchmark>> | null = null;
    if (!skipTracing) {
      // Each run on a service and a database of its own: the one above has stopped, so nothing else competes.
      const settings = tracingSettings({ orders: 5000, rounds: 3 });
      const runs = tracingSequence(settings.rounds).map((on) => (on ? 'on' : 'off')).join(', ');
      process.stdout.write(`tracing: end to end (${settings.orders.toLocaleString('en')} orders) ${runs}, OTLP ${settings.protocol} to a local sink, fresh service and database each …\n`);
      tracing = await runTracingBenchmark({ ...settings, serverUrl: adminUrl });
    }

    process.stdout.write('inventory sync of 10,000 SKUs …\n');
    const sync = await syncBenchmark();

    const { rows: [{ server_version: version }] } = await db.query('SHOW server_version');
    // Off, dead job rows pile up in pg-boss's table and every fetch reads them: say so beside the figures.
    const { rows: [{ autovacuum }] } = await db.query('SHOW autovacuum');
    const ratio = (v: number | null | undefined) => (pgbench && v ? Number((v / pgbench).toFixed(3)) : null);
    const setup = workers > 0 ? `1 API + ${workers} worker processes` : '1 process (ROLE=all)';
    console.log(`\norderloop benchmark: ${setup}; ${os.cpus().length} cores, Node ${process.version}, PostgreSQL ${version} (autovacuum ${autovacuum}); pgbench ${pgbench ?? 'n/a'} TPS\n`);
    const work = endToEnd.databaseWork;
    const window = work ? `in ${work.seconds.toFixed(0)} s, the bench's own ${work.benchStatements} taken off` : '';
    const roundTripDetail = !work || work.roundTrips === null
      ? null
      : work.statementsEvicted
        ? 'pg_stat_statements evicted entries meanwhile: too low'
        : `${work.roundTrips} ${window}, and ${work.foreignKeyChecks} deferred FK checks`;
    console.table({
      'intake req/s (5,000 POST, 32 clients)': { value: intake.reqPerSec, 'ratio to pgbench': ratio(intake.reqPerSec), p50Ms: intake.p50Ms, p99Ms: intake.p99Ms, errors: intake.errors, aim: '≥ 0.3 × pgbench, p99 ≤ 50 ms, 0 errors' },
      'end to end completed orders/s': { value: endToEnd.ordersPerSec, 'ratio to pgbench': ratio(endToEnd.ordersPerSec), p50Ms: endToEnd.p50Ms, p99Ms: endToEnd.p99Ms, errors: 5000 - endToEnd.completed, aim: '≥ 0.15 × pgbench' },
      'round trips per completed order (end to end)': {
        value: work?.roundTripsPerOrder ?? ROUND_TRIPS_UNAVAILABLE,
        detail: roundTripDetail,
        aim: '≤ 6 round trips/order',
      },
      'commits per completed order (end to end)': { value: work?.commitsPerOrder ?? null, detail: work ? `${work.commits} ${window}` : null },
      'hot SKU orders/s (1,000 orders, stock 500)': { value: hotSku.ordersPerSec, 'ratio to pgbench': ratio(hotSku.ordersPerSec), completed: hotSku.completed, aim: '≥ 0.15 × pgbench, exactly 500 completed' },
      ...webhookRows(webhooks, ratio),
      'flaky payments completed orders/s (2,000, rate 0.3)': { value: flaky.ordersPerSec, 'ratio to pgbench': ratio(flaky.ordersPerSec), attemptsPerOrder: flaky.attemptsPerOrder },
      'idle: service commits/s (no orders)': {
        value: idle.commitsPerSec,
        detail: `over ${idle.seconds} s; ${idle.roundTripsPerSec ?? 'n/a'} round trips/s`,
        aim: '≤ 10 commits/s',
      },
      'idle: service CPU % of one core': { value: idle.cpuPercentOfCore, aim: '≤ 1 % of a core' },
      ...(sustained ? sustainedRows(sustained, { pgbench, endToEnd: endToEnd.ordersPerSec }) : {}),
      ...(tracing ? tracingRows(tracing, ratio) : {}),
      'inventory sync seconds (10,000 SKUs)': { value: sync?.seconds ?? null, aim: '< 3 s' },
      'peak RSS MB': { value: peakRssMb, aim: '≤ 250' },
    });
    if (work?.topStatements.length) {
      console.log(`\nend to end: statements per completed order, most called first (pg_stat_statements; BEGIN and COMMIT are round trips too):`);
      for (const st of work.topStatements) console.log(`  ${(st.calls / endToEnd.completed).toFixed(2).padStart(6)}  ${st.text}`);
    }
    printTopStatements(webhooks);
    if (sustained) {
      console.log(`\nsustained: intake answers ${JSON.stringify(sustained.intake.statusCounts)}; backlog every 10 s (seconds since the first POST):`);
      for (const s of sustained.samples) console.log(`  ${formatSample(s)}`);
    }

    const result = {
      at: new Date().toISOString(),
      setup: { workers, description: setup },
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, postgres: version, autovacuum },
      pgbenchTps: pgbench,
      intake: { reqPerSec: intake.reqPerSec, p50Ms: intake.p50Ms, p99Ms: intake.p99Ms, errors: intake.errors, statusCounts: intake.statusCounts },
      endToEnd,
      hotSku,
      webhooks,
      flakyPayments: flaky,
      idle,
      sustained,
      tracing,
      sync,
      peakRssMb,
      ratios: {
        intake: ratio(intake.reqPerSec),
        endToEnd: ratio(endToEnd.ordersPerSec),
        hotSku: ratio(hotSku.ordersPerSec),
        webhooksWithToWithout: webhooks.ratio,
        tracingOnToOff: tracing?.ratio ?? null,
        flakyPayments: ratio(flaky.ordersPerSec),
        sustainedArrivals: ratio(sustained?.arrivals.perSec),
        sustainedCompletedWhileSending: ratio(sustained?.completedPerSecWhileSending),
        sustainedCompletedOverall: ratio(sustained?.completedPerSecOverall),
        sustainedToEndToEnd: sustained && endToEnd.ordersPerSec ? Number((sustained.completedPerSecWhileSending / endToEnd.ordersPerSec).toFixed(3)) : null,
      },
    };
    const dir = path.join(ROOT_DIR, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (workers > 0) fs.writeFileSync(path.join(dir, `workers-${workers}.json`), `${JSON.stringify(result, null, 2)}\n`);
    const single = path.join(dir, 'workers-0.json');
    if (workers === 0) fs.writeFileSync(single, `${JSON.stringify(result, null, 2)}\n`);
    else if (fs.existsSync(single)) {
      const before = JSON.parse(fs.readFileSync(single, 'utf8'));
      console.log(`\nscale-out: end to end ${before.endToEnd.ordersPerSec} orders/s with one process, ${endToEnd.ordersPerSec} with 1 API + ${workers} workers`);
    }
    console.log(`\nwrote ${path.relative(ROOT_DIR, path.join(dir, 'latest.json'))}`);
  } finally {
    for (const p of processes) await p.stop();
    for (const close of closers) await close();
    await db.end().catch(() => undefined);
    await database.stop();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
