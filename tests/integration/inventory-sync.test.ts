import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { Product } from '../../src/modules/catalog';
import { InventorySync, reserveStock, StockReservation, SyncRunner } from '../../src/modules/inventory';
import { tickOf, tickSlotSeconds } from '../../src/modules/inventory';
import { Order } from '../../src/modules/orders';
import { metrics } from '../../src/observability/metrics';
import { QUEUES } from '../../src/queue/queues';
import { eventually, startTestApp, TEST_ENV, type TestApp } from '../helpers/test-app';

/** A run as GET /inventory/syncs/:id shows it. */
interface RunDetail {
  id: number;
  jobId: string | null;
  attempt: number;
  status: string;
  finishedAt: string | null;
  pages: number;
  skusSeen: number;
  skusChanged: number;
  skusUnknown: number;
  skusMissing: number | null;
  malformedCount: number;
  error: string | null;
  shortfalls: Array<Record<string, unknown>>;
  unknownSkus: string[];
  missingSkus: string[];
  malformed: Array<Record<string, unknown>>;
  changes: Array<Record<string, unknown>>;
}

/** A product's stock as GET /products/:sku shows it. */
interface StockView {
  stockOnHand: number;
  stockReserved: number;
}

describe('inventory sync (in-process worker, mock warehouse over HTTP)', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;
  let prefix = 0;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    t = await startTestApp({
      workers: true,
      warehouseUrl: warehouse.url,
      env: {
        WAREHOUSE_PAGE_SIZE: '5',
        WAREHOUSE_TIMEOUT_MS: '500',
        INVENTORY_SYNC_MAX_ATTEMPTS: '3',
        INVENTORY_SYNC_RETRY_DELAY_S: '1',
        // Ticks come from the manual trigger here; the cron must not add runs during a test.
        INVENTORY_SYNC_CRON: '0 0 1 1 *',
      },
    });
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });
  beforeEach(async () => {
    Object.assign(warehouse.warehouse.settings, { failureRate: 0, latencyMs: 0, malformed: 'none', hang: false, failPage: null });
    prefix += 1;
  });

  async function product(sku: string, stock: number, lowStockThreshold = 0): Promise<{ id: number; sku: string }> {
    const made = await Product.create({ sku, name: `Test product ${sku}`, priceCents: 1250, currency: 'EUR', stockOnHand: stock, lowStockThreshold, category: null });
    return { id: made.id, sku: made.sku };
  }

  /** Products with SKUs that sort in creation order, unique to this test. */
  async function products(levels: number[]): Promise<Array<{ id: number; sku: string }>> {
    const made = [];
    for (const [i, stock] of levels.entries()) made.push(await product(`INV-${process.pid}-${prefix}-${String(i).padStart(2, '0')}`, stock));
    return made;
  }

  /** Replaces everything the warehouse holds. */
  async function warehouseHolds(items: Array<{ sku: string; quantity: number }>): Promise<void> {
    const res = await fetch(`${warehouse.url}/stock`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items, replace: true }),
    });
    expect(res.status).toBe(200);
  }

  async function setWarehouseConfig(config: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${warehouse.url}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
    expect(res.status).toBe(200);
  }

  async function triggerSync(): Promise<string> {
    const res = await t.http.post('/inventory/sync');
    expect(res.status).toBe(202);
    expect(res.body.alreadyQueued).toBe(false);
    return res.body.jobId as string;
  }

  /** `jobId`'s attempt once it has finished, with its detail, as the API shows it. */
  async function finishedRun(jobId: string, attempt = 1, timeoutMs = 20_000): Promise<RunDetail> {
    const run = await eventually(async () => {
      const list = await t.http.get('/inventory/syncs').query({ jobId, limit: 100 });
      return (list.body.syncs as Array<{ id: number; attempt: number; status: string }>).find((s) => s.attempt === attempt && s.status !== 'running');
    }, timeoutMs);
    const detail = await t.http.get(`/inventory/syncs/${run.id}`);
    expect(detail.status).toBe(200);
    return detail.body.sync as RunDetail;
  }

  /** Stock as GET /products/:sku shows it, in the order given. */
  async function stockOf(list: Array<{ sku: string }>): Promise<StockView[]> {
    const views: StockView[] = [];
    for (const { sku } of list) {
      const res = await t.http.get(`/products/${encodeURIComponent(sku)}`);
      expect(res.status).toBe(200);
      views.push({ stockOnHand: res.body.product.stockOnHand, stockReserved: res.body.product.stockReserved });
    }
    return views;
  }

  async function jobState(jobId: string): Promise<{ state: string; retryCount: number } | undefined> {
    const job = await t.ctx.queue.boss.getJobById(QUEUES.INVENTORY_SYNC, jobId);
    return job ? { state: job.state, retryCount: job.retryCount } : undefined;
  }

  /** Holds `quantity` of a product for a reserved order, through the order flow's own stock code. */
  async function reserve(productId: number, sku: string, quantity: number): Promise<string> {
    const orderId = randomUUID();
    await t.ctx.sequelize.transaction(async (transaction) => {
      await Order.create({ id: orderId, customerId: 'cust_inventory', status: 'reserved', totalCents: '0', currency: 'EUR' }, { transaction });
      const result = await reserveStock(t.ctx.sequelize, orderId, [{ productId, sku, quantity }], new Date(Date.now() + 3_600_000), transaction);
      expect(result.ok).toBe(true);
    });
    return orderId;
  }

  /** Captures the sync's log lines while `work` runs (the sync reads ctx.logger at the start of each run). */
  async function withCapturedLogs<T>(work: () => Promise<T>): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
    const lines: Array<Record<string, unknown>> = [];
    const original = t.ctx.logger;
    t.ctx.logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    try {
      return { result: await work(), lines };
    } finally {
      t.ctx.logger = original;
    }
  }

  it('when the warehouse reports new levels, then stock_on_hand follows them and the run records each change', async () => {
    const [a, b, same] = await products([10, 50, 30]);
    await warehouseHolds([
      { sku: a.sku, quantity: 25 },
      { sku: b.sku, quantity: 40 },
      { sku: same.sku, quantity: 30 },
    ]);

    const jobId = await triggerSync();
    const run = await finishedRun(jobId);

    expect(run.status).toBe('succeeded');
    expect(run.error).toBeNull();
    expect(run.skusSeen).toBe(3);
    expect(run.skusChanged).toBe(2);
    expect(await stockOf([a, b, same])).toEqual([
      { stockOnHand: 25, stockReserved: 0 },
      { stockOnHand: 40, stockReserved: 0 },
      { stockOnHand: 30, stockReserved: 0 },
    ]);
    expect(run.changes).toEqual(expect.arrayContaining([
      expect.objectContaining({ sku: a.sku, kind: 'restock', before: 10, after: 25, warehouse: 25, reserved: 0 }),
      expect.objectContaining({ sku: b.sku, kind: 'reduction', before: 50, after: 40, warehouse: 40, reserved: 0 }),
    ]));
    expect(run.changes.map((c) => c.sku)).not.toContain(same.sku);

    const detail = await t.http.get(`/inventory/syncs/${run.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.sync).toMatchObject({ id: run.id, trigger: 'manual', jobId, attempt: 1, status: 'succeeded', skusChanged: 2 });
    expect(detail.body.sync.changes).toHaveLength(2);
  });

  it('when two pages of the warehouse hold the SKUs, then the run reads every page and applies both', async () => {
    const made = await products([1, 1, 1, 1, 1, 1, 1]);
    await warehouseHolds(made.map((p, i) => ({ sku: p.sku, quantity: 100 + i })));

    const run = await finishedRun(await triggerSync());

    expect(run.status).toBe('succeeded');
    expect(run.pages).toBe(2);
    expect((await stockOf(made)).map((s) => s.stockOnHand)).toEqual([100, 101, 102, 103, 104, 105, 106]);
  });

  it('when the warehouse has fewer units than are reserved, then on hand stays at the reserved count and a shortfall is recorded and logged', async () => {
    const [p] = await products([20]);
    await reserve(p.id, p.sku, 8);
    await warehouseHolds([{ sku: p.sku, quantity: 3 }]);

    let jobId = '';
    const { result: run, lines } = await withCapturedLogs(async () => finishedRun((jobId = await triggerSync())));

    expect(run.status).toBe('succeeded');
    const [stock] = await stockOf([p]);
    expect(stock).toEqual({ stockOnHand: 8, stockReserved: 8 });
    const active = (await StockReservation.scope('active').sum('quantity', { where: { productId: p.id } })) ?? 0;
    expect(Number(active)).toBe(stock.stockReserved);
    expect(0 <= stock.stockReserved && stock.stockReserved <= stock.stockOnHand).toBe(true);
    expect(run.shortfalls).toEqual([{ sku: p.sku, productId: p.id, warehouse: 3, reserved: 8, onHand: 8, short: 5 }]);
    expect(run.changes).toEqual([expect.objectContaining({ sku: p.sku, kind: 'reduction', before: 20, after: 8, shortfall: true })]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, sku: p.sku, warehouse: 3, reserved: 8, short: 5 }));

    const list = await t.http.get('/inventory/syncs').query({ jobId });
    expect(list.body.syncs).toEqual([expect.objectContaining({ id: run.id, shortfallCount: 1 })]);
  });

  it('when the warehouse restocks a product that was short, then the freed stock shows as a restock in the run and in a log line', async () => {
    const [p] = await products([20]);
    await reserve(p.id, p.sku, 6);
    await warehouseHolds([{ sku: p.sku, quantity: 0 }]);
    await finishedRun(await triggerSync());
    expect((await stockOf([p]))[0]).toEqual({ stockOnHand: 6, stockReserved: 6 });

    await warehouseHolds([{ sku: p.sku, quantity: 30 }]);
    const { result: run, lines } = await withCapturedLogs(async () => finishedRun(await triggerSync()));

    expect((await stockOf([p]))[0]).toEqual({ stockOnHand: 30, stockReserved: 6 });
    expect(run.shortfalls).toEqual([]);
    expect(run.changes).toEqual([{ sku: p.sku, productId: p.id, kind: 'restock', before: 6, after: 30, warehouse: 30, reserved: 6 }]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, sku: p.sku, before: 6, after: 30, availableBefore: 0, availableAfter: 24 }));
  });

  it('when a sync takes available stock down to the low-stock threshold, then a low-stock line is logged and counted once, not again on the next sync', async () => {
    const p = await product(`INV-${process.pid}-low-stock`, 20, 5);
    const lowStockEvents = async () => (await metrics.lowStockEvents.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await lowStockEvents();

    await warehouseHolds([{ sku: p.sku, quantity: 4 }]);
    const first = await withCapturedLogs(async () => finishedRun(await triggerSync()));
    expect(first.lines).toContainEqual(expect.objectContaining({ level: 40, sku: p.sku, availableBefore: 20, availableAfter: 4, threshold: 5 }));
    expect(await lowStockEvents()).toBe(before + 1);

    await warehouseHolds([{ sku: p.sku, quantity: 3 }]);
    const second = await withCapturedLogs(async () => finishedRun(await triggerSync()));
    expect(second.lines.filter((l) => l.sku === p.sku && l.threshold !== undefined)).toEqual([]);
    expect(await lowStockEvents()).toBe(before + 1);
  });

  it('when the warehouse lists SKUs orderloop does not know and misses products it knows, then both are counted and listed and nothing is created', async () => {
    const [reported, missing] = await products([10, 10]);
    const stranger = `WH-ONLY-${process.pid}-${prefix}`;
    await warehouseHolds([
      { sku: reported.sku, quantity: 11 },
      { sku: stranger, quantity: 4 },
    ]);

    const run = await finishedRun(await triggerSync());

    expect(run.status).toBe('succeeded');
    expect(run.skusSeen).toBe(2);
    expect(run.skusUnknown).toBe(1);
    expect(run.unknownSkus).toEqual([stranger]);
    expect(run.missingSkus).toContain(missing.sku);
    expect(run.missingSkus).not.toContain(reported.sku);
    expect(run.skusMissing).toBe((await Product.count()) - 1);
    const unknownProduct = await t.http.get(`/products/${stranger}`);
    expect(unknownProduct.status).toBe(404);
    expect(unknownProduct.body.error.code).toBe('PRODUCT_NOT_FOUND');
    expect((await stockOf([missing]))[0].stockOnHand).toBe(10);

    const detail = await t.http.get(`/inventory/syncs/${run.id}`);
    expect(detail.body.sync).toMatchObject({ skusUnknown: 1, unknownSkus: [stranger], skusMissing: run.skusMissing });
  });

  it('when the warehouse answers 503, then the run is failed with the error, stock is untouched, and pg-boss retries the job until it succeeds', async () => {
    const [p] = await products([10]);
    await warehouseHolds([{ sku: p.sku, quantity: 77 }]);
    await setWarehouseConfig({ failureRate: 1 });

    const jobId = await triggerSync();
    const first = await finishedRun(jobId, 1);
    expect(first.status).toBe('failed');
    expect(first.error).toMatch(/page 1: the warehouse answered 503/);
    expect(first.pages).toBe(0);
    expect((await stockOf([p]))[0].stockOnHand).toBe(10);

    const second = await finishedRun(jobId, 2);
    expect(second.status).toBe('failed');
    expect((await stockOf([p]))[0].stockOnHand).toBe(10);

    await setWarehouseConfig({ failureRate: 0 });
    const third = await finishedRun(jobId, 3);
    expect(third.status).toBe('succeeded');
    expect((await stockOf([p]))[0].stockOnHand).toBe(77);
    await eventually(async () => (await jobState(jobId))?.state === 'completed');
    expect(await jobState(jobId)).toEqual({ state: 'completed', retryCount: 2 });

    const runs = await t.http.get('/inventory/syncs').query({ jobId });
    expect(runs.body.syncs.map((s: { attempt: number; status: string }) => [s.attempt, s.status])).toEqual([
      [3, 'succeeded'],
      [2, 'failed'],
      [1, 'failed'],
    ]);
  });

  it('when the warehouse does not answer within WAREHOUSE_TIMEOUT_MS, then the run fails as a timeout, stock is untouched, and the retry applies it', async () => {
    const [p] = await products([10]);
    await warehouseHolds([{ sku: p.sku, quantity: 12 }]);
    await setWarehouseConfig({ hang: true });

    const jobId = await triggerSync();
    const first = await finishedRun(jobId, 1);
    expect(first.status).toBe('failed');
    expect(first.error).toMatch(/did not answer within 500 ms/);
    expect((await stockOf([p]))[0].stockOnHand).toBe(10);

    await setWarehouseConfig({ hang: false });
    const retried = await finishedRun(jobId, 2);
    expect(retried.status).toBe('succeeded');
    expect((await stockOf([p]))[0].stockOnHand).toBe(12);
  });

  it('when page 2 fails, then page 1 stays applied, the run is failed with pages = 1, and the retry finishes the job', async () => {
    const made = await products([1, 1, 1, 1, 1, 1, 1]);
    await warehouseHolds(made.map((p) => ({ sku: p.sku, quantity: 9 })));
    await setWarehouseConfig({ failPage: 2 });

    const jobId = await triggerSync();
    const first = await finishedRun(jobId, 1);
    expect(first).toMatchObject({ status: 'failed', pages: 1, skusChanged: 5, skusMissing: null });
    expect(first.error).toMatch(/page 2: the warehouse answered 503/);
    expect(first.changes.map((c) => c.sku)).toEqual(made.slice(0, 5).map((p) => p.sku));
    expect((await stockOf(made)).map((s) => s.stockOnHand)).toEqual([9, 9, 9, 9, 9, 1, 1]);

    await setWarehouseConfig({ failPage: null });
    const retried = await finishedRun(jobId, 2);
    expect(retried).toMatchObject({ status: 'succeeded', pages: 2, skusChanged: 2 });
    expect((await stockOf(made)).map((s) => s.stockOnHand)).toEqual([9, 9, 9, 9, 9, 9, 9]);
  });

  it('when rows are malformed (negative quantity, missing sku, non-integer quantity), then they are skipped and reported and the good rows are applied', async () => {
    // Page size 5: page 1 holds 00-04 (00, 01, 02 broken), page 2 holds 05 (broken too).
    const made = await products([10, 10, 10, 10, 10, 10]);
    await warehouseHolds(made.map((p) => ({ sku: p.sku, quantity: 50 })));
    await setWarehouseConfig({ malformed: 'rows' });

    const run = await finishedRun(await triggerSync());

    expect(run.status).toBe('succeeded');
    expect((await stockOf(made)).map((s) => s.stockOnHand)).toEqual([10, 10, 10, 50, 50, 10]);
    expect(run.malformedCount).toBe(4);
    expect(run.malformed).toEqual([
      expect.objectContaining({ page: 1, index: 0, sku: made[0].sku, reason: expect.stringMatching(/quantity must be greater than or equal to 0/) }),
      expect.objectContaining({ page: 1, index: 1, reason: expect.stringMatching(/sku is required/) }),
      expect.objectContaining({ page: 1, index: 2, sku: made[2].sku, reason: expect.stringMatching(/quantity must be an integer/) }),
      expect.objectContaining({ page: 2, index: 0, sku: made[5].sku }),
    ]);
    expect(run.skusSeen).toBe(2);
    // The row without a SKU leaves its product unreported; rows that name a SKU do not make it "missing".
    expect(run.missingSkus).toContain(made[1].sku);
    expect(run.missingSkus).not.toContain(made[0].sku);
  });

  it('when the warehouse sends a body that is not JSON, then the run fails, stock is untouched, and the retry applies it', async () => {
    const [p] = await products([10]);
    await warehouseHolds([{ sku: p.sku, quantity: 15 }]);
    await setWarehouseConfig({ malformed: 'body' });

    const jobId = await triggerSync();
    const first = await finishedRun(jobId, 1);
    expect(first.status).toBe('failed');
    expect(first.error).toMatch(/not JSON/);
    expect((await stockOf([p]))[0].stockOnHand).toBe(10);

    await setWarehouseConfig({ malformed: 'none' });
    expect((await finishedRun(jobId, 2)).status).toBe('succeeded');
    expect((await stockOf([p]))[0].stockOnHand).toBe(15);
  });

  it('when a second job arrives for a cron tick that already ran, then it is skipped; a run left running by a stopped worker is closed as failed', async () => {
    const [p] = await products([5]);
    await warehouseHolds([{ sku: p.sku, quantity: 6 }]);
    // A run a stopped worker left behind.
    const stale = await InventorySync.create({ trigger: 'manual' });
    const sync = new SyncRunner(t.ctx);
    const tick = '2026-01-01T00:05:00.000Z';

    const first = await sync.run({ trigger: 'cron', tick, jobId: randomUUID(), attempt: 1 });
    const duplicate = await sync.run({ trigger: 'cron', tick, jobId: randomUUID(), attempt: 1 });

    expect(first).toMatchObject({ skusChanged: 1 });
    expect(duplicate).toBeNull();
    // The tick is not in the API's filters: read the runs of the tick through the model.
    expect((await InventorySync.findAll({ where: { tick: new Date(tick) } })).map((r) => r.status)).toEqual(['succeeded']);
    const closed = (await t.http.get(`/inventory/syncs/${stale.id}`)).body.sync as RunDetail;
    expect(closed).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned/) });
    expect(closed.finishedAt).not.toBeNull();
  });

  it('when runs are listed, then they come newest first with a cursor to the next page, and unknown ids or bad cursors are refused', async () => {
    // Finished runs of its own, so the test does not rely on the others having run.
    for (const status of ['succeeded', 'failed', 'succeeded', 'failed'] as const) {
      await InventorySync.create({ trigger: 'manual', status, finishedAt: new Date(), ...(status === 'failed' ? { error: 'listed run' } : {}) });
    }
    const all = await t.http.get('/inventory/syncs').query({ limit: 100 });
    expect(all.status).toBe(200);
    const ids = all.body.syncs.map((s: { id: number }) => s.id);
    expect(ids.length).toBeGreaterThan(3);
    expect(ids).toEqual([...ids].sort((x: number, y: number) => y - x));

    const first = await t.http.get('/inventory/syncs').query({ limit: 2 });
    expect(first.body.syncs.map((s: { id: number }) => s.id)).toEqual(ids.slice(0, 2));
    const second = await t.http.get('/inventory/syncs').query({ limit: 2, cursor: first.body.nextCursor });
    expect(second.body.syncs.map((s: { id: number }) => s.id)).toEqual(ids.slice(2, 4));
    expect(second.body.syncs[0]).not.toHaveProperty('changes');

    const failed = await t.http.get('/inventory/syncs').query({ status: 'failed', limit: 100 });
    expect(failed.body.syncs.length).toBeGreaterThan(0);
    expect(failed.body.syncs.every((s: { status: string }) => s.status === 'failed')).toBe(true);

    expect((await t.http.get('/inventory/syncs').query({ cursor: 'nonsense' })).status).toBe(400);
    expect((await t.http.get('/inventory/syncs').query({ limit: 0 })).status).toBe(400);
    const missing = await t.http.get('/inventory/syncs/987654321');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('SYNC_NOT_FOUND');
    expect((await t.http.get('/inventory/syncs/abc')).status).toBe(400);
    expect((await t.http.delete('/inventory/syncs')).status).toBe(405);
  });
});

describe('mock warehouse and sync schedule (no database)', () => {
  it('when drift is on, then quantities change over time, and close() stops the drift', async () => {
    const mock = await startWarehouseMock({ drift: true, failureRate: 0, latencyMs: 0 }, 0, { seed: true, driftIntervalMs: 10 });
    const snapshot = () => JSON.stringify([...mock.warehouse.stock.entries()].map(([sku, l]) => [sku, l.quantity]));
    const before = snapshot();
    await eventually(async () => snapshot() !== before, 2_000, 10);
    await mock.close();
    const stopped = snapshot();
    await new Promise((r) => setTimeout(r, 60));
    expect(snapshot()).toBe(stopped);
    expect([...mock.warehouse.stock.values()].every((l) => Number.isInteger(l.quantity) && l.quantity >= 0)).toBe(true);
  });

  it('when the mock is seeded from the demo catalog, then it pages every product and warehouse-only SKU sorted by SKU, 1000 rows at most', async () => {
    const mock = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0);
    try {
      const catalog = require('../../seeders/data/demo-catalog.json') as { products: Array<{ sku: string }>; warehouseOnly: Array<{ sku: string }> };
      const expected = [...catalog.products, ...catalog.warehouseOnly].map((p) => p.sku).sort();
      const seen: string[] = [];
      for (let page: number | null = 1; page !== null; ) {
        const body = (await (await fetch(`${mock.url}/stock?page=${page}&pageSize=7`)).json()) as { items: Array<{ sku: string; quantity: number; updatedAt: string }>; nextPage: number | null };
        for (const item of body.items) {
          expect(item).toEqual({ sku: expect.any(String), quantity: expect.any(Number), updatedAt: expect.any(String) });
          seen.push(item.sku);
        }
        page = body.nextPage;
      }
      expect(seen).toEqual(expected);
      expect((await fetch(`${mock.url}/stock?page=1&pageSize=1001`)).status).toBe(400);
      expect((await fetch(`${mock.url}/stock?page=0`)).status).toBe(400);
    } finally {
      await mock.close();
    }
  });

  it('when the cron has ticks every second, five minutes or day, then the dedupe slot is the gap between ticks (capped at an hour)', () => {
    const runs = (gapSeconds: number) => Array.from({ length: 5 }, (_, i) => new Date(Date.UTC(2026, 0, 1) + i * gapSeconds * 1000));
    expect(tickSlotSeconds(runs(1))).toBe(1);
    expect(tickSlotSeconds(runs(300))).toBe(300);
    expect(tickSlotSeconds(runs(86_400))).toBe(3600);
    expect(tickSlotSeconds([new Date(0), new Date(8 * 3600_000), new Date(24 * 3600_000)])).toBe(3600);
    expect(tickOf({ date: new Date('2026-11-21T10:05:00.004Z') })).toBe('2026-11-21T10:05:00.000Z');
  });

  it('when INVENTORY_SYNC_CRON is not a cron expression, then configuration fails with a message naming it', () => {
    expect(() => loadConfig({ ...TEST_ENV, INVENTORY_SYNC_CRON: 'every five minutes' })).toThrow(
      new ConfigError('INVENTORY_SYNC_CRON must be a valid cron expression, got "every five minutes"'),
    );
  });
});
