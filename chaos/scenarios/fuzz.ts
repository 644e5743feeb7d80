import { adminToken, customerToken, inventoryCheck, Cluster, createDatabase, rows } from '../cluster';
import { createProducts, formatCounts } from '../checks';
import { newFuzzStats, runOrderFuzz, writesSnapshot } from '../fuzz/order-requests';
import { inspectJobs } from '../../src/queue/inspect';
import { CHAOS_ENV, seconds, type Scenario } from './common';

const RUNS = Number(process.env.CHAOS_FUZZ_RUNS ?? 3_000);

/**
 * 6. Fuzzing the real API process: a few thousand random and mutated order bodies and headers
 * (fast-check, chaos/fuzz/order-requests.ts, also run by Jest in tests/integration/fuzz-orders.test.ts).
 * Never a 5xx, and a 4xx never writes a row. ROLE=api only, so no worker writes in between.
 */
export const fuzzIntake: Scenario = {
  id: 'fuzz',
  title: `fuzz POST /orders/create with ${RUNS} random and mutated requests`,
  async run(ctx) {
    const { report } = ctx;
    const db = await createDatabase(ctx.dir);
    const cluster = new Cluster(ctx.dir, db.url, { ...CHAOS_ENV, PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9', WAREHOUSE_URL: 'http://127.0.0.1:9' });
    try {
      const api = await cluster.service('api', 'api');
      const jobs = inspectJobs(db.pool);
      // Plenty of stock, and one SKU with 2 units (409 INSUFFICIENT_STOCK for larger quantities).
      const products = [...(await createProducts(db.pool, 'FUZZ', 3, 10_000_000)), ...(await createProducts(db.pool, 'FUZZLOW', 1, 2))];
      const tokens = {
        admin: await adminToken(cluster, api.url!),
        customer: await customerToken(cluster, api.url!, 'cust_fuzz'),
        customerId: 'cust_fuzz',
      };
      const started = Date.now();
      let failure: string | null = null;
      const stats = newFuzzStats(process.env.CHAOS_FUZZ_SEED ? Number(process.env.CHAOS_FUZZ_SEED) : undefined);
      try {
        await runOrderFuzz({
          baseUrl: api.url!,
          tokens,
          skus: products.map((p) => p.sku),
          numRuns: RUNS,
          snapshot: () => writesSnapshot((sql) => rows(db.pool, sql), jobs),
        }, stats);
      } catch (error) {
        failure = (error as Error).message;
      }
      const [orders] = await rows<{ n: string }>(db.pool, `SELECT count(*) AS n FROM "Orders"`);
      report.figure('requests', `${stats.requests} in ${seconds(Date.now() - started)} (seed ${stats.seed}; CHAOS_FUZZ_SEED replays it)`);
      report.figure('answers', formatCounts(stats.byStatus));
      report.figure('error codes', formatCounts(stats.byCode));
      report.figure('orders created by the fuzzer', Number(orders.n));
      report.check('never a 5xx; every 4xx has the error shape and writes nothing', failure === null, failure ?? '');
      report.check('the API process is still up', api.running());
      const repair = await inventoryCheck(cluster);
      report.figure('inventory:check', repair.summary);
      report.check('inventory:check finds nothing to fix', repair.ok, repair.ok ? '' : repair.output);
    } finally {
      const problems = await cluster.stopAll();
      await db.close();
      if (problems.length) ctx.log(`shutdown: ${problems.join('; ')}`);
    }
  },
};
