import { randomUUID } from 'node:crypto';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { reserveStock } from '../../src/modules/inventory/stock';
import { InventorySync } from '../../src/modules/inventory/sync';
import { appendOrderLogs } from '../../src/modules/orders/order-log';
import { invariantViolations } from '../helpers/invariants';
import { createProduct, eventually, startTestApp, type TestApp } from '../helpers/test-app';

const ORDERS = 100;
const TERMINAL = ['completed', 'failed', 'cancelled'];

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
    for (let i = 0; i < 6; i += 1) products.push(await createProduct(t, { stock: 60, sku: `CONC-${process.pid}-${i}` }));
    const skus = products.map((p) => p.sku);
    for (const sku of skus) warehouse.warehouse.set(sku, 60);

    // One reservation held all along (an order waiting for payment), so every sync meets reserved stock.
    const heldOrder = randomUUID();
    await t.ctx.sequelize.transaction(async (transaction) => {
      await t.ctx.sequelize.query(
        `INSERT INTO "Orders" (id, customer_id, status, total_cents, currency) VALUES ($1, 'cust_held', 'reserved', 0, 'EUR')`,
        { bind: [heldOrder], transaction },
      );
      const held = await reserveStock(t.ctx.sequelize, heldOrder, [{ productId: products[0].id, sku: skus[0], quantity: 10 }], new Date(Date.now() + 3_600_000), transaction);
      expect(held.ok).toBe(true);
      await appendOrderLogs(t.ctx.sequelize, heldOrder, [
        { event: 'ORDER_CREATED', toStatus: 'pending', message: 'Held order for the inventory concurrency test' },
        { event: 'STOCK_RESERVED', fromStatus: 'pending', toStatus: 'reserved', message: `Reserved 10 x ${skus[0]}` },
      ], transaction);
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
          const [row] = await t.query<{ id: string; status: string }>(
            `SELECT id, status FROM "Inventory_Syncs" WHERE job_id = $1 AND status <> 'running' ORDER BY attempt DESC LIMIT 1`,
            [res.body.jobId],
          );
          return row;
        }, 30_000, 25);
        runIds.push(Number(run.id));
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

      await eventually(async () => {
        const [{ open }] = await t.query<{ open: number }>(
          `SELECT count(*)::int AS open FROM "Orders" WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed', 'cancelled')`,
          [accepted],
        );
        return open === 0;
      }, 90_000, 200);
      ordersDone = true;
      await syncLoop;
    } finally {
      aborted = true;
      await syncLoop.catch(() => undefined);
    }

    const cancel = await t.http.post(`/orders/${heldOrder}/cancel`);
    expect(cancel.status).toBe(200);

    // Every accepted order ended; the stock invariants held at every sample and hold now.
    const statuses = await t.query<{ status: string }>('SELECT status FROM "Orders" WHERE id = ANY($1::uuid[])', [accepted]);
    expect(statuses.filter((s) => !TERMINAL.includes(s.status))).toEqual([]);
    expect(samples.flat()).toEqual([]);
    expect(await invariantViolations(t)).toEqual([]);

    // The syncs ran alongside the orders, met reserved stock (shortfalls) and never failed (no deadlock, no CHECK violation).
    const runs = await t.query<{ status: string; error: string | null; shortfalls: number; changed: number }>(
      `SELECT status, error, jsonb_array_length(shortfalls) AS shortfalls, skus_changed AS changed FROM "Inventory_Syncs" WHERE id = ANY($1::bigint[])`,
      [runIds],
    );
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    expect(runs.some((r) => r.shortfalls > 0)).toBe(true);
    expect(runs.some((r) => r.changed > 0)).toBe(true);

    const [{ completed }] = await t.query<{ completed: number }>(
      `SELECT count(*)::int AS completed FROM "Orders" WHERE id = ANY($1::uuid[]) AND status = 'completed'`,
      [accepted],
    );
    expect(completed).toBeGreaterThan(0);
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
    for (let i = 0; i < 6; i += 1) products.push(await createProduct(t, { stock: 5000, sku: `KEYS-${process.pid}-${i}` }));
    const sync = new InventorySync(t.ctx);

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
