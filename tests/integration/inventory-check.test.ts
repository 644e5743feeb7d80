import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Product } from '../../src/modules/catalog';
import { checkOrderIntegrity, Order, OrderLog } from '../../src/modules/orders';
import { OrderFlow } from '../../src/modules/orders';
import { invariantViolations } from '../helpers/invariants';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

async function cli(t: TestApp, args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/src/cli/inventory-check.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

describe('npm run inventory:check', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when every invariant holds, then it reports nothing and exits 0', async () => {
    const p = await createProduct({ stock: 5 });
    const created = await t.http.post('/orders').send({ customerId: 'cust_check_ok', items: [{ sku: p.sku, quantity: 2 }] });
    await new OrderFlow(t.ctx).reserve(created.body.order.id, {});
    const { code, stdout } = await cli(t, []);
    expect(stdout).toContain('every invariant holds');
    expect(code).toBe(0);
  });

  it('when stock_reserved drifted and a terminal order still holds a reservation, then it reports both and --fix repairs them', async () => {
    const p = await createProduct({ stock: 10 });
    const flow = new OrderFlow(t.ctx);
    const orphan = await t.http.post('/orders').send({ customerId: 'cust_check_bad', items: [{ sku: p.sku, quantity: 3 }] });
    await flow.reserve(orphan.body.order.id, {});
    // Break it the way a buggy deploy or a manual edit would: around the flow, straight through the models.
    await Order.update({ status: 'failed', failureReason: 'PAYMENT_DECLINED' }, { where: { id: orphan.body.order.id } });
    await OrderLog.create({ orderId: orphan.body.order.id, event: 'ORDER_FAILED', fromStatus: null, toStatus: null, attempt: null, message: 'failed by a buggy path that forgot the stock', details: null, jobId: null, requestId: null });
    const drifted = await createProduct({ stock: 10 });
    await Product.update({ stockReserved: 4 }, { where: { id: drifted.id } });

    const report = await cli(t, []);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain(`[ORPHANED_RESERVATION] reservation`);
    expect(report.stdout).toContain(`[RESERVED_MISMATCH] ${drifted.sku}: stock_reserved is 4 but its active reservations hold 0`);

    const fixed = await cli(t, ['--fix']);
    expect(fixed.code).toBe(0);
    // The orphan goes back through the release path (stock_reserved follows); the drift is recomputed.
    expect(fixed.stdout).toContain(`released orphaned reservation`);
    expect(fixed.stdout).toContain(`3 x ${p.sku} of failed order ${orphan.body.order.id}`);
    expect(fixed.stdout).toContain(`set ${drifted.sku} stock_reserved 4 -> 0`);
    expect((await t.http.get(`/products/${p.sku}`)).body.product).toMatchObject({ stockOnHand: 10, stockReserved: 0, available: 10 });
    expect((await t.http.get(`/products/${drifted.sku}`)).body.product).toMatchObject({ stockOnHand: 10, stockReserved: 0 });
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
    const { timeline } = (await t.http.get(`/orders/${orphan.body.order.id}`)).body.order;
    expect(timeline[timeline.length - 1]).toMatchObject({ event: 'STOCK_RELEASED', details: { repair: true, reservationId: expect.any(Number) } });
    expect(timeline[timeline.length - 1].message).toMatch(/^Repair: released 3 x/);

    const again = await cli(t, []);
    expect(again.stdout).toContain('every invariant holds');
  });

  it('when a closed order still holds more than its product has on hand counted, then --fix releases it without inventing stock', async () => {
    const p = await createProduct({ stock: 5 });
    const orphan = await t.http.post('/orders').send({ customerId: 'cust_check_floor', items: [{ sku: p.sku, quantity: 3 }] });
    await new OrderFlow(t.ctx).reserve(orphan.body.order.id, {});
    await Order.update({ status: 'cancelled' }, { where: { id: orphan.body.order.id } });
    await OrderLog.create({ orderId: orphan.body.order.id, event: 'ORDER_CANCELLED', fromStatus: null, toStatus: null, attempt: null, message: 'cancelled by a buggy path that forgot the stock', details: null, jobId: null, requestId: null });
    // Two units left the shelf by hand and the reserved count drifted: on hand 2, reserved 1, the orphan holds 3.
    await Product.update({ stockOnHand: 2, stockReserved: 1 }, { where: { id: p.id } });

    const fixed = await cli(t, ['--fix']);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain(`3 x ${p.sku} of cancelled order ${orphan.body.order.id}`);
    expect((await t.http.get(`/products/${p.sku}`)).body.product).toMatchObject({ stockOnHand: 2, stockReserved: 0, available: 2 });
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
  });

  it('when an order has sat non-terminal past the limit, then it is reported as stuck and not touched by --fix', async () => {
    const p = await createProduct({ stock: 2 });
    const created = await t.http.post('/orders').send({ customerId: 'cust_check_stuck', items: [{ sku: p.sku, quantity: 1 }] });
    // Nothing has touched it for two hours (Sequelize skips an update of updatedAt alone, hence the unchanged status).
    await Order.update({ status: 'pending', updatedAt: new Date(Date.now() - 2 * 3_600_000) }, { where: { id: created.body.order.id }, silent: true });
    const report = await checkOrderIntegrity({ stuckAfterMinutes: 30 });
    const stuck = report.problems.filter((p) => p.kind === 'STUCK_ORDER');
    expect(stuck.map((s) => s.details.orderId)).toContain(created.body.order.id);
    expect(stuck.find((s) => s.details.orderId === created.body.order.id)?.message).toMatch(/has been pending for 1[12]\d minutes$/);
    expect((await t.http.get(`/orders/${created.body.order.id}`)).body.order.status).toBe('pending');
    const { code } = await cli(t, ['--fix']);
    expect(code).toBe(1);
  });

  it('when a cancelled order holds a successful charge that nothing refunds (as before refunds existed), then it is reported as a money mismatch and --fix leaves it to a person', async () => {
    const p = await createProduct({ stock: 2, priceCents: 800 });
    const created = await t.http.post('/orders').send({ customerId: 'cust_check_money', items: [{ sku: p.sku, quantity: 1 }] });
    const orderId = created.body.order.id;
    expect((await t.http.post(`/orders/${orderId}/cancel`).send({})).body.order.status).toBe('cancelled');
    // What a charge landing after the close left behind before this release: a charge, no refund.
    await t.query(`INSERT INTO "Payments" (order_id, attempt, outcome, provider_charge_id, amount_cents, currency) VALUES ($1, 1, 'succeeded', 'ch_old_late', 800, 'EUR')`, [orderId]);
    const report = await cli(t, []);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain(`[MONEY_MISMATCH] cancelled order ${orderId} has 1 successful charge(s) and no refund`);
    expect((await cli(t, ['--fix'])).code).toBe(1);
    await t.query(`DELETE FROM "Payments" WHERE order_id = $1`, [orderId]);
  });

  it('when given an unknown flag, then it prints its usage and exits 2', async () => {
    const { code } = await cli(t, ['--frobnicate']);
    expect(code).toBe(2);
  });
});
