import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { registerInventoryJobs } from '../../src/modules/inventory/jobs';
import { killAllChildren, logLines, sleep, spawnService, type ChildService } from '../helpers/child-service';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

/** Waits for a worker-role child (no HTTP) to log that it started. */
async function workerStarted(child: ChildService): Promise<void> {
  await eventually(async () => {
    if (child.hasExited()) throw new Error(`worker exited before it started\n${child.output()}`);
    return logLines(child.stdout()).some((line) => line.msg === 'orderloop worker started');
  }, 30_000, 100).catch((error) => {
    throw new Error(`${(error as Error).message}\n${child.output()}`);
  });
}

describe('inventory sync across processes', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    // No workers here: this process only answers HTTP and reads the database.
    t = await startTestApp({ workers: false, warehouseUrl: warehouse.url });
  });
  afterAll(async () => {
    await killAllChildren();
    await t.stop();
    await warehouse.close();
  });

  it('when a manual sync is requested while one is already queued, then 202 names the queued job and no second job is created', async () => {
    const first = await t.http.post('/inventory/sync');
    const second = await t.http.post('/inventory/sync');

    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ alreadyQueued: false, trigger: 'manual' });
    expect(first.headers.location).toBe(`/inventory/syncs?jobId=${first.body.jobId}`);
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ jobId: first.body.jobId, alreadyQueued: true, trigger: 'manual' });
    const jobs = await t.query<{ id: string }>(`SELECT id FROM pgboss.job WHERE name = 'inventory-sync'`);
    expect(jobs).toEqual([{ id: first.body.jobId }]);
  });

  it('when two worker processes tick every second on one database, then each tick produces exactly one job and one sync', async () => {
    const p = await createProduct(t, { stock: 10 });
    warehouse.warehouse.set(p.sku, 33);
    const env = {
      ROLE: 'worker',
      DATABASE_URL: t.db.url,
      PAYMENT_PROVIDER_URL: t.paymentServer.url,
      WAREHOUSE_URL: warehouse.url,
      INVENTORY_SYNC_CRON: '* * * * * *',
      WORKER_POLL_INTERVAL_S: '0.5',
      LOG_LEVEL: 'debug',
    };
    // One after the other: concurrent pg-boss queue set-up on a fresh database is not what this test is about.
    const a = await spawnService(env);
    await workerStarted(a);
    const b = await spawnService(env);
    await workerStarted(b);
    const bothUp = new Date();

    await sleep(6_000);
    const stopping = new Date();
    const exits = await Promise.all([a.stop('SIGTERM', 15_000), b.stop('SIGTERM', 15_000)]);
    expect(exits.map((e) => e.code)).toEqual([0, 0]);

    const jobsPerTick = await t.query<{ tick: string; jobs: number }>(
      `SELECT data->>'tick' AS tick, count(*)::int AS jobs FROM pgboss.job
       WHERE name = 'inventory-sync' AND data->>'trigger' = 'cron' GROUP BY 1 ORDER BY 1`,
    );
    const runsPerTick = await t.query<{ tick: string; runs: number; succeeded: number }>(
      `SELECT tick::text, count(*)::int AS runs, count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded
       FROM "Inventory_Syncs" WHERE trigger = 'cron' GROUP BY tick ORDER BY tick`,
    );
    const details = `jobs per tick ${JSON.stringify(jobsPerTick)}\nruns per tick ${JSON.stringify(runsPerTick)}`;

    expect(jobsPerTick.filter((r) => r.jobs !== 1)).toEqual([]);
    expect(runsPerTick.filter((r) => r.runs !== 1)).toEqual([]);
    // Ticks while both processes were up: 6 s of one-second ticks; a tick may be skipped while the previous sync is still queued.
    const whileBothUp = jobsPerTick.filter((r) => new Date(r.tick) >= bothUp && new Date(r.tick) < stopping);
    expect({ count: whileBothUp.length >= 4, details }).toEqual({ count: true, details });

    // Both processes ticked: for some ticks one of them sent the job and the other was refused by pg-boss.
    const queued = [a, b].map((c) => logLines(c.stdout()).filter((l) => l.msg === 'inventory sync queued for this tick').length);
    const refused = [a, b].map((c) => logLines(c.stdout()).filter((l) => String(l.msg).startsWith('inventory sync for this tick already queued')).length);
    expect(queued[0] + queued[1]).toBe(jobsPerTick.length);
    expect(refused[0] + refused[1]).toBeGreaterThan(0);
    expect(Math.min(queued[0] + refused[0], queued[1] + refused[1])).toBeGreaterThanOrEqual(4);

    // The syncs did their job.
    const [product] = await t.query<{ stock_on_hand: number }>('SELECT stock_on_hand FROM "Products" WHERE id = $1', [p.id]);
    expect(product.stock_on_hand).toBe(33);
    const overlapping = await t.query(
      `SELECT a.id FROM "Inventory_Syncs" a JOIN "Inventory_Syncs" b ON a.id < b.id
       WHERE tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)`,
    );
    expect(overlapping).toEqual([]);
  }, 90_000);
});

describe('inventory sync worker shutdown', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    t = await startTestApp({
      workers: false,
      warehouseUrl: warehouse.url,
      env: { WAREHOUSE_TIMEOUT_MS: '20000', INVENTORY_SYNC_CRON: '0 0 1 1 *', INVENTORY_SYNC_RETRY_DELAY_S: '30' },
    });
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });

  it('when the worker stops while a sync waits on the warehouse, then the run is closed as failed at once and the job is left for a retry', async () => {
    const p = await createProduct(t, { stock: 10 });
    warehouse.warehouse.set(p.sku, 99);
    warehouse.warehouse.settings.latencyMs = 10_000;
    const stop = await registerInventoryJobs(t.ctx);

    const { body } = await t.http.post('/inventory/sync').expect(202);
    await eventually(async () => (await t.query(`SELECT id FROM "Inventory_Syncs" WHERE job_id = $1 AND status = 'running'`, [body.jobId])).length === 1);
    const started = Date.now();
    await stop();

    expect(Date.now() - started).toBeLessThan(3_000);
    const [run] = await t.query<{ status: string; error: string }>('SELECT status, error FROM "Inventory_Syncs" WHERE job_id = $1', [body.jobId]);
    expect(run).toEqual({ status: 'failed', error: 'page 1: the sync was interrupted (shutdown)' });
    const [{ stock_on_hand }] = await t.query<{ stock_on_hand: number }>('SELECT stock_on_hand FROM "Products" WHERE id = $1', [p.id]);
    expect(stock_on_hand).toBe(10);
    await eventually(async () => {
      const [job] = await t.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [body.jobId]);
      return job?.state === 'retry';
    }, 5_000);
  });
});
