import { randomUUID } from 'node:crypto';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { Product } from '../../src/modules/catalog';
import { reserveStock, SyncRunner } from '../../src/modules/inventory';
import { Order, OrderLog } from '../../src/modules/orders';
import { invariantViolations } from '../helpers/invariants';
import { eventually, startTestApp, type TestApp } from '../helpers/test-app';

const ORDERS = 100;
const TERMINAL = ['completed', 'failed', 'cancelled'];

async function newProduct(sku: string, stock: number): Promise<{ id: number; sku: string }> {
  const made = await Product.create({ sku, name: `Test product ${sku}`, priceCents: 1250, currency: 'EUR', stockOnHand: stock, lowStockThreshold: 0, category: null });
  return { id: made.id, sku: made.sku };
}

describe('inventory sync while orders reserve the same SKUs', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: true, failureRate: 0, latencyMs: 0 }, 0, { seed: false, driftIntervalMs: 25 });
    t = await startTestApp({
      workers: true,
      warehouseUrl: warehouse.url,
      env: {
        // Small pages: every sync is several short transactions interleaving with the orders'.
        WAREHOUSE_PAGE_SIZE: '2',
        INVENTORY_SYNC_CRON: '0 0 1 1 *',
        INVENTORY_SYNC_RETRY_DELAY_S: '1',
      },
    });
    // Charges take a while, so reservations are held while syncs run.
    t.payments.settings.latencyMs = 300;
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });

  it('when a sync runs while 100 concurrent orders reserve the same SKUs, then no reservation is lost, 0 <= reserved <= on hand throughout, and every order ends', async () => {
    const products: Array<{ id: number; sku: string }> = [];
    for (let i = 0; i < 6; i += 1) products.push(await newProduct(`CONC-${process.pid}-${i}`, 60));
    const skus = products.map((p) => p.sku);
    for (const sku of skus) warehouse.warehouse.set(sku, 60);

    // One reservation held all along (an order waiting for payment), so every sync meets reserved stock.
    const heldOrder = randomUUID();
    await t.ctx.sequelize.transaction(async (transaction) => {
      await Order.create({ id: heldOrder, customerId: 'cust_held', status: 'reserved', totalCents: '0', currency: 'EUR' }, { transaction });
      const held = await reserveStock(t.ctx.sequelize, heldOrder, [{ productId: products[0].id, sku: skus[0], quantity: 10 }], new Date(Date.now() + 3_600_000), transaction);
      expect(held.ok).toBe(true);
      await OrderLog.bulkCreate([
        { orderId: heldOrder, event: 'ORDER_CREATED', toStatus: 'pending', message: 'Held order for the inventory concurrency test' },
        { orderId: heldOrder, event: 'STOCK_RESERVED', fromStatus: 'pending', toStatus: 'reserved', message: `Reserved 10 x ${skus[0]}` },
      ], { transaction });
    });

    let ordersDone = false;
    let aborted = false;
    const samples: string[][] = [];
    const runIds: number[] = [];
    const syncLoop = (async () => {
      for (let round = 0; !aborted && (!ordersDone || round < 3); round += 1) {
        // Alternate between generous restocks and levels far below what is reserved.
        for (const sku of skus) warehouse.warehouse.set(sku, round % 2 === 1 ? Math.floor(Math.random() * 6) : 20 + Math.floor(Math.random() * 60));
        const res = await t.http.post('/inventory/sync');
        if (res.status !== 202) throw new Error(`POST /inventory/sync answered ${res.status}: ${res.text}`);
        const run = await eventually(async () => {
          // Newest attempt first.
          const list = await t.http.get('/inventory/syncs').query({ jobId: res.body.jobId, limit: 100 });
          return (list.body.syncs as Array<{ id: number; status: string }>).find((s) => s.status !== 'running');
        }, 30_000, 25);
        runIds.push(run.id);
        samples.push(await invariantViolations(t, { requireTerminal: false }));
      }
    })();

    let accepted: string[] = [];
    try {
      const orders = await Promise.all(
        Array.from({ length: ORDERS }, (_, i) => {
          // Items in random order: intake's foreign-key checks lock products in item order, not id order.
          const picked = [...skus].sort(() => Math.random() - 0.5).slice(0, 1 + (i % 3));
          return t.http.post('/orders/create').send({
            customerId: `cust_conc_${i}`,
            items: picked.map((sku) => ({ sku, quantity: 1 + Math.floor(Math.random() * 3) })),
          });
        }),
      );
      accepted = orders.filter((r) => r.status === 202).map((r) => r.body.order.id as string);
      const refused = orders.filter((r) => r.status !== 202).map((r) => `${r.status} ${r.text}`);
      expect(refused.filter((r) => !r.startsWith('409') || !r.includes('INSUFFICIENT_STOCK'))).toEqual([]);
      expect(accepted.length).toBeGreaterThanOrEqual(20);

      await eventually(async () => (await Order.scope('open').count({ where: { id: accepted } })) === 0, 90_000, 200);
      ordersDone = true;
      await syncLoop;
    } finally {
      aborted = true;
      await syncLoop.catch(() => undefined);
    }

    const cancel = await t.http.post(`/orders/${heldOrder}/cancel`);
    expect(cancel.status).toBe(200);

    // Every accepted order ended; the stock invariants held at every sample and hold now.
    const statuses: Array<{ id: string; status: string }> = [];
    for (const id of accepted) statuses.push({ id, status: (await t.http.get(`/orders/${id}`).expect(200)).body.order.status });
    expect(statuses.filter((s) => !TERMINAL.includes(s.status))).toEqual([]);
    expect(samples.flat()).toEqual([]);
    expect(await invariantViolations(t)).toEqual([]);

    // The syncs ran alongside the orders, met reserved stock (shortfalls) and never failed (no deadlock, no CHECK violation).
    const runs: Array<{ status: string; error: string | null; shortfalls: number; changed: number }> = [];
    for (const id of runIds) {
      const { sync } = (await t.http.get(`/inventory/syncs/${id}`).expect(200)).body;
      runs.push({ status: sync.status, error: sync.error, shortfalls: sync.shortfallCount, changed: sync.skusChanged });
    }
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    expect(runs.some((r) => r.shortfalls > 0)).toBe(true);
    expect(runs.some((r) => r.changed > 0)).toBe(true);

    expect(statuses.filter((s) => s.status === 'completed').length).toBeGreaterThan(0);
  }, 120_000);
});

describe('inventory sync while orders are accepted with items in any order', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    // No workers: only order intake (whose foreign-key checks lock products in item order) meets the sync.
    t = await startTestApp({ workers: false, warehouseUrl: warehouse.url, env: { WAREHOUSE_PAGE_SIZE: '1000', INVENTORY_SYNC_CRON: '0 0 1 1 *' } });
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });

  it('when syncs lock every product of a page while 100 concurrent orders list items in descending id order, then nothing deadlocks and every order is accepted', async () => {
    const products: Array<{ id: number; sku: string }> = [];
    for (let i = 0; i < 6; i += 1) products.push(await newProduct(`KEYS-${process.pid}-${i}`, 5000));
    const sync = new SyncRunner(t.ctx);

    let done = false;
    const outcomes: string[] = [];
    const syncLoop = (async () => {
      for (let round = 0; !done || round < 3; round += 1) {
        for (const p of products) warehouse.warehouse.set(p.sku, 4000 + Math.floor(Math.random() * 1000));
        try {
          const summary = await sync.run({ trigger: 'manual' });
          outcomes.push(summary ? 'succeeded' : 'skipped');
        } catch (error) {
          outcomes.push(`failed: ${(error as Error).message}`);
        }
      }
    })();

    let responses;
    try {
      responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          // Highest id first: the opposite of the sync's lock order.
          const picked = [...products].reverse().filter((_, k) => (i + k) % 2 === 0 || k === 0);
          return t.http.post('/orders/create').send({ customerId: `cust_keys_${i}`, items: picked.map((p) => ({ sku: p.sku, quantity: 1 })) });
        }),
      );
    } finally {
      done = true;
      await syncLoop;
    }

    expect(responses.filter((r) => r.status !== 202).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    expect(outcomes.filter((o) => o !== 'succeeded')).toEqual([]);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  }, 60_000);
});
