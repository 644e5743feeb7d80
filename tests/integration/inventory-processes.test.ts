import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { Product } from '../../src/modules/catalog';
import { registerInventoryJobs } from '../../src/modules/inventory';
import { QUEUES } from '../../src/queue/queues';
import { killAllChildren, logLines, sleep, spawnService, type ChildService } from '../helpers/child-service';
import { eventually, startTestApp, type TestApp } from '../helpers/test-app';

interface RunSummary {
  id: number;
  trigger: string;
  tick: string | null;
  jobId: string | null;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

let skuCounter = 0;
async function newProduct(stock: number): Promise<{ id: number; sku: string }> {
  skuCounter += 1;
  const sku = `PROC-${process.pid}-${Date.now().toString(36)}-${skuCounter}`;
  const made = await Product.create({ sku, name: `Test product ${sku}`, priceCents: 1250, currency: 'EUR', stockOnHand: stock, lowStockThreshold: 0, category: null });
  return { id: made.id, sku: made.sku };
}

/** Every run GET /inventory/syncs lists for `filter`, following the cursor, newest first. */
async function allRuns(t: TestApp, filter: Record<string, string> = {}): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  let cursor: string | null = null;
  do {
    const res = await t.http.get('/inventory/syncs').query({ ...filter, limit: 100, ...(cursor ? { cursor } : {}) });
    expect(res.status).toBe(200);
    runs.push(...(res.body.syncs as RunSummary[]));
    cursor = res.body.nextCursor;
  } while (cursor);
  return runs;
}

async function stockOnHand(t: TestApp, sku: string): Promise<number> {
  const res = await t.http.get(`/products/${sku}`);
  expect(res.status).toBe(200);
  return res.body.product.stockOnHand;
}

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
    const jobs = await t.ctx.queue.inspect.jobsWithData(QUEUES.INVENTORY_SYNC, 'trigger', 'manual');
    expect(jobs.map((j) => j.id)).toEqual([first.body.jobId]);
    expect(await t.ctx.queue.boss.getQueueSize(QUEUES.INVENTORY_SYNC)).toBe(1);
  });

  it('when two worker processes tick every second on one database, then each tick produces exactly one job and one sync', async () => {
    const p = await newProduct(10);
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

    const countBy = <T>(items: T[], key: (item: T) => string) => {
      const counts = new Map<string, number>();
      for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
      return [...counts].sort(([x], [y]) => x.localeCompare(y));
    };
    const cronJobs = await t.ctx.queue.inspect.jobsWithData(QUEUES.INVENTORY_SYNC, 'trigger', 'cron');
    const jobsPerTick = countBy(cronJobs, (j) => String((j.data as { tick?: string }).tick)).map(([tick, jobs]) => ({ tick, jobs }));
    const allSyncs = await allRuns(t);
    const runsPerTick = countBy(allSyncs.filter((r) => r.trigger === 'cron'), (r) => String(r.tick)).map(([tick, runs]) => ({ tick, runs }));
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
    expect(await stockOnHand(t, p.sku)).toBe(33);
    // [started, finished) of every two runs are disjoint (a run still running extends to infinity).
    const span = (r: RunSummary) => [Date.parse(r.startedAt), r.finishedAt ? Date.parse(r.finishedAt) : Infinity];
    const overlapping = allSyncs.flatMap((a) =>
      allSyncs.filter((b) => a.id < b.id && span(a)[0] < span(b)[1] && span(b)[0] < span(a)[1]).map((b) => [a.id, b.id]),
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
    const p = await newProduct(10);
    warehouse.warehouse.set(p.sku, 99);
    warehouse.warehouse.settings.latencyMs = 10_000;
    const stop = await registerInventoryJobs(t.ctx);

    const { body } = await t.http.post('/inventory/sync').expect(202);
    await eventually(async () => (await allRuns(t, { jobId: body.jobId, status: 'running' })).length === 1);
    const started = Date.now();
    await stop();

    expect(Date.now() - started).toBeLessThan(3_000);
    const runs = await allRuns(t, { jobId: body.jobId });
    expect(runs.map((r) => ({ status: r.status, error: r.error }))).toEqual([{ status: 'failed', error: 'page 1: the sync was interrupted (shutdown)' }]);
    expect(await stockOnHand(t, p.sku)).toBe(10);
    await eventually(async () => (await t.ctx.queue.boss.getJobById(QUEUES.INVENTORY_SYNC, body.jobId))?.state === 'retry', 5_000);
  });
});
