import { Client } from 'pg';
import { DatabaseCounters, STATS_FLUSH_DELAY_MS, type DatabaseWork } from './db-work';
import { adminToken, benchDatabase, startServiceProcess, waitUntil } from './harness';
import { assertInvariants } from './invariants';
import { runWebhookBenchmark, webhookRows } from './webhooks';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const autocannon: any = require('autocannon');

interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  statusCounts: Record<string, number>;
  seconds: number;
}

/** Sends `amount` order POSTs at `connections` concurrent clients with autocannon. */
export async function postOrders(baseUrl: string, amount: number, connections: number, skus: string[]): Promise<LoadResult> {
  let n = 0;
  const token = await adminToken();
  const statusCounts: Record<string, number> = {};
  const started = Date.now();
  // autocannon ends a run only on its next 1-second sample tick: the time is taken at the last answer instead.
  let lastAnswerAt = started;
  const result = await autocannon({
    url: baseUrl,
    connections,
    amount,
    requests: [
      {
        method: 'POST',
        path: '/orders/create',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (req: Record<string, unknown>) => {
          n += 1;
          return { ...req, body: JSON.stringify({ customerId: `bench_${n % 1000}`, items: [{ sku: skus[n % skus.length], quantity: 1 }] }) };
        },
        onResponse: (status: number) => {
          statusCounts[status] = (statusCounts[status] ?? 0) + 1;
          lastAnswerAt = Date.now();
        },
      },
    ],
  });
  const seconds = (lastAnswerAt - started) / 1000;
  return {
    reqPerSec: Math.round(amount / seconds),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    statusCounts,
    seconds,
  };
}

export async function orderTimes(db: Client, since: Date): Promise<{ p50Ms: number; p99Ms: number; lastDoneAt: Date | null }> {
  const { rows } = await db.query(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) * 1000 AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at)) * 1000 AS p99,
            max(updated_at) AS last
     FROM "Orders" WHERE status = 'completed' AND created_at >= $1`,
    [since],
  );
  return { p50Ms: Math.round(Number(rows[0].p50)), p99Ms: Math.round(Number(rows[0].p99)), lastDoneAt: rows[0].last };
}

async function count(db: Client, where: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM "Orders" WHERE ${where}`, params);
  return rows[0].n;
}

export interface EndToEndWork extends DatabaseWork {
  roundTripsPerOrder: number | null;
  commitsPerOrder: number;
}

/**
 * Intake, end to end and hot SKU, each followed by the invariant checks. With `counters`, the
 * end-to-end scenario also reports the service's round trips and commits per completed order.
 */
export async function runOrderBenchmarks(
  db: Client,
  baseUrl: string,
  options: { orders: number; hotOrders: number; hotStock: number; counters?: DatabaseCounters },
) {
  const skus = Array.from({ length: 50 }, (_, i) => `BENCH-${i}`);
  await db.query(
    `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold)
     SELECT s, 'Bench ' || s, 1000, 'EUR', 10000000, 0 FROM unnest($1::text[]) s`,
    [skus],
  );
  await db.query(`INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, low_stock_threshold) VALUES ('BENCH-HOT', 'Hot', 500, 'EUR', $1, 0)`, [options.hotStock]);

  // 1 + 2: intake and end to end. The drain is polled every 500 ms: the bench's own statements stay few next to the service's.
  const workBefore = await options.counters?.snapshot();
  const start = new Date();
  const intake = await postOrders(baseUrl, options.orders, 32, skus);
  await waitUntil(async () => (await count(db, `status IN ('pending', 'reserved') AND created_at >= $1`, [start])) === 0, 180_000, 500);
  const times = await orderTimes(db, start);
  const completed = await count(db, `status = 'completed' AND created_at >= $1`, [start]);
  let work: EndToEndWork | null = null;
  if (options.counters && workBefore) {
    // The service's last commits reach pg_stat_database only once its idle connections publish them.
    await new Promise((r) => setTimeout(r, STATS_FLUSH_DELAY_MS));
    const done = DatabaseCounters.between(workBefore, await options.counters.snapshot());
    const perOrder = (v: number) => Number((v / completed).toFixed(2));
    work = { ...done, roundTripsPerOrder: done.roundTrips === null ? null : perOrder(done.roundTrips), commitsPerOrder: perOrder(done.commits) };
  }
  const e2eSeconds = ((times.lastDoneAt?.getTime() ?? Date.now()) - start.getTime()) / 1000;
  const endToEnd = { ordersPerSec: Math.round(completed / e2eSeconds), p50Ms: times.p50Ms, p99Ms: times.p99Ms, completed, seconds: Number(e2eSeconds.toFixed(2)), databaseWork: work };
  await assertInvariants(db, 'end to end');

  // 3: a hot SKU with fewer units than orders.
  const hotStart = new Date();
  const hotIntake = await postOrders(baseUrl, options.hotOrders, 32, ['BENCH-HOT']);
  await waitUntil(async () => (await count(db, `status IN ('pending', 'reserved') AND created_at >= $1`, [hotStart])) === 0, 180_000);
  const hotCompleted = await count(db, `status = 'completed' AND created_at >= $1`, [hotStart]);
  const hotFailed = await count(db, `status = 'failed' AND failure_reason = 'OUT_OF_STOCK' AND created_at >= $1`, [hotStart]);
  const hotTimes = await orderTimes(db, hotStart);
  const hotSeconds = ((hotTimes.lastDoneAt?.getTime() ?? Date.now()) - hotStart.getTime()) / 1000;
  const { rows: [hot] } = await db.query(`SELECT stock_on_hand, stock_reserved FROM "Products" WHERE sku = 'BENCH-HOT'`);
  const hotSku = {
    ordersPerSec: Math.round((hotCompleted + hotFailed) / hotSeconds),
    completed: hotCompleted,
    failedOutOfStock: hotFailed,
    refusedAtIntake: hotIntake.statusCounts['409'] ?? 0,
    stockLeft: hot.stock_on_hand,
    reservedLeft: hot.stock_reserved,
  };
  await assertInvariants(db, 'hot SKU');
  return { intake, endToEnd, hotSku };
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const service = await startServiceProcess({ DATABASE_URL: database.url });
  const db = new Client({ connectionString: database.url });
  await db.connect();
  try {
    const { intake, endToEnd, hotSku } = await runOrderBenchmarks(db, service.baseUrl, { orders: 5000, hotOrders: 1000, hotStock: 500 });
    process.stdout.write('webhooks: end to end without, then with one endpoint for every event …\n');
    const webhooks = await runWebhookBenchmark(db, service.baseUrl, { orders: 5000, servicePids: service.child.pid ? [service.child.pid] : [] });
    console.log('\norderloop order benchmarks');
    console.table({
      'intake (5,000 POST, 32 clients)': { 'per second': intake.reqPerSec, p50Ms: intake.p50Ms, p99Ms: intake.p99Ms, errors: intake.errors },
      'end to end (POST → completed)': { 'per second': endToEnd.ordersPerSec, p50Ms: endToEnd.p50Ms, p99Ms: endToEnd.p99Ms, errors: 5000 - endToEnd.completed },
      'hot SKU (1,000 orders, stock 500)': { 'per second': hotSku.ordersPerSec, completed: hotSku.completed, 'failed OUT_OF_STOCK': hotSku.failedOutOfStock, 'refused 409': hotSku.refusedAtIntake },
    });
    console.table(webhookRows(webhooks));
    console.log(`peak RSS of the service: ${service.peakRssMb()} MB`);
  } finally {
    await db.end();
    await service.stop();
    await database.stop();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
