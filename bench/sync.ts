import { QueryTypes } from 'sequelize';
import { loadConfig } from '../src/config';
import type { AppContext } from '../src/context';
import { migrateUp } from '../src/db/migrate';
import { createSequelize } from '../src/db/sequelize';
import { registerModels } from '../src/db/models';
import { startWarehouseMock } from '../src/mocks/warehouse';
import { InventoryService, registerInventoryJobs, SyncRunner } from '../src/modules/inventory';
import { TokenService } from '../src/modules/auth';
import { HttpPaymentAdapter } from '../src/modules/payments';
import { EventHub } from '../src/modules/events';
import { JobQueue } from '../src/queue/job-queue';
import { createLogger } from '../src/shared/logger';
import { benchDatabase, printTable, waitUntil } from './harness';

/**
 * npm run bench:sync — 10,000 products, a mock warehouse holding new levels for all of them,
 * and the inventory sync run through its real code path (HTTP pages of 1000, joi per row, one
 * set-based statement per page): SKUs/s and total seconds. DATABASE_URL names a server to
 * create a scratch database on; without it an embedded PostgreSQL starts in a temp dir.
 */

const SKUS = Number(process.env.BENCH_SKUS ?? 10_000);
const PAGE_SIZE = 1000;
const TARGET_SECONDS = 3;

async function main(): Promise<void> {
  const started = Date.now();
  const database = await benchDatabase();
  const warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
  const config = loadConfig({
    NODE_ENV: 'development',
    // Per-SKU restock and shortfall lines would bury the figures; LOG_LEVEL=info shows them.
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    DATABASE_URL: database.url,
    WAREHOUSE_PAGE_SIZE: String(PAGE_SIZE),
    WAREHOUSE_TIMEOUT_MS: '10000',
    INVENTORY_SYNC_CRON: '0 0 1 1 *',
    WORKER_POLL_INTERVAL_S: '0.5',
  });
  const logger = createLogger(config.logLevel, { bench: 'sync' });
  const sequelize = registerModels(createSequelize(database.url, { poolMax: 5, logger }));
  const queue = new JobQueue(config, sequelize, database.url, logger);
  let stopWorkers: (() => Promise<void>) | undefined;
  try {
    await migrateUp(sequelize);
    // Every 100th product has 20 units reserved, and the warehouse will report fewer: shortfalls on the way.
    await sequelize.query(
      `INSERT INTO "Products" (sku, name, price_cents, currency, stock_on_hand, stock_reserved, low_stock_threshold)
       SELECT 'BENCH-' || lpad(g::text, 6, '0'), 'Bench product ' || g, 1000, 'EUR', 100 + g % 50, CASE WHEN g % 100 = 0 THEN 20 ELSE 0 END, 5
       FROM generate_series(1, $1::int) AS g`,
      { bind: [SKUS] },
    );
    await sequelize.query('ANALYZE "Products"');

    const load = async (quantity: (i: number) => number) => {
      const items = Array.from({ length: SKUS }, (_, k) => ({ sku: `BENCH-${String(k + 1).padStart(6, '0')}`, quantity: quantity(k + 1) }));
      const res = await fetch(`${warehouse.url}/stock`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items, replace: true }),
      });
      if (!res.ok) throw new Error(`loading the warehouse failed: ${res.status} ${await res.text()}`);
    };

    const ctx: AppContext = {
      config,
      logger,
      sequelize,
      queue,
      // Unused until a sync publishes an event to a live stream: it connects only on first use.
      eventHub: new EventHub(database.url, logger),
      payments: new HttpPaymentAdapter('http://127.0.0.1:1', 1000),
      // Unused here: the bench calls the sync and the service directly, not over HTTP.
      tokens: new TokenService('bench-sync-secret-that-is-long-enough-000', 3600),
      mocksInProcess: { payments: false, warehouse: true },
      warehouseUrl: warehouse.url,
    };
    const sync = new SyncRunner(ctx);
    const rows: Array<Record<string, string | number | null>> = [];
    const row = (scenario: string, summary: { pages: number; skusChanged: number; shortfalls: number }, seconds: number) =>
      rows.push({
        scenario,
        skus: SKUS,
        pages: summary.pages,
        changed: summary.skusChanged,
        shortfalls: summary.shortfalls,
        seconds: Number(seconds.toFixed(3)),
        'SKUs/s': Math.round(SKUS / seconds),
      });

    // 1. Every SKU changes (warehouse levels differ from the database for all 10,000).
    await load((g) => (g % 100 === 0 ? 5 : 200 + (g % 7)));
    let t0 = performance.now();
    const first = await sync.run({ trigger: 'manual' });
    const firstSeconds = (performance.now() - t0) / 1000;
    row('all SKUs change', first!, firstSeconds);

    // 2. Nothing changes: the steady state of a sync every few minutes.
    t0 = performance.now();
    const second = await sync.run({ trigger: 'manual' });
    row('nothing changes', second!, (performance.now() - t0) / 1000);

    // 3. End to end through pg-boss: POST-equivalent enqueue, worker pick-up, sync.
    await queue.start();
    stopWorkers = await registerInventoryJobs(ctx);
    await load((g) => (g % 100 === 0 ? 3 : 300 + (g % 11)));
    t0 = performance.now();
    const { jobId } = await new InventoryService(ctx).requestSync();
    let finished: { status: string; pages: number; skus_changed: number; shortfalls: number } | undefined;
    await waitUntil(async () => {
      [finished] = await sequelize.query<{ status: string; pages: number; skus_changed: number; shortfalls: number }>(
        `SELECT status, pages, skus_changed, jsonb_array_length(shortfalls) AS shortfalls FROM "Inventory_Syncs" WHERE job_id = $1 AND status <> 'running'`,
        { bind: [jobId], type: QueryTypes.SELECT },
      );
      return Boolean(finished);
    }, 60_000, 20);
    if (finished?.status !== 'succeeded') throw new Error(`queued sync did not succeed: ${JSON.stringify(finished)}`);
    row('via pg-boss job', { pages: finished.pages, skusChanged: finished.skus_changed, shortfalls: finished.shortfalls }, (performance.now() - t0) / 1000);

    // The result is right: every product holds the warehouse level (or its reserved count when short).
    const [check] = await sequelize.query<{ wrong: string; violating: string }>(
      `SELECT count(*) FILTER (WHERE stock_on_hand <> GREATEST(CASE WHEN substr(sku, 7)::int % 100 = 0 THEN 3 ELSE 300 + substr(sku, 7)::int % 11 END, stock_reserved))::text AS wrong,
              count(*) FILTER (WHERE stock_reserved > stock_on_hand OR stock_reserved < 0)::text AS violating
       FROM "Products"`,
      { type: QueryTypes.SELECT },
    );
    if (Number(check.wrong) || Number(check.violating)) throw new Error(`sync result is wrong: ${JSON.stringify(check)}`);

    printTable(rows);
    const verdict = firstSeconds < TARGET_SECONDS ? 'within' : 'OVER';
    process.stdout.write(
      `\ninventory sync: ${SKUS} SKUs in ${Math.ceil(SKUS / PAGE_SIZE)} pages of ${PAGE_SIZE}: ` +
        `${Math.round(SKUS / firstSeconds)} SKUs/s, ${firstSeconds.toFixed(2)} s total (${verdict} the ${TARGET_SECONDS} s aim); ` +
        `bench ran ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`,
    );
    process.exitCode = firstSeconds < TARGET_SECONDS ? 0 : 1;
  } finally {
    await stopWorkers?.();
    await queue.stop().catch(() => undefined);
    await sequelize.close();
    await warehouse.close();
    await database.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`bench:sync failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
