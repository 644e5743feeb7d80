import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkInventory } from '../../src/modules/inventory/integrity';
import { OrderFlow } from '../../src/modules/orders/flow';
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
    const p = await createProduct(t, { stock: 5 });
    const created = await t.http.post('/orders').send({ customerId: 'cust_check_ok', items: [{ sku: p.sku, quantity: 2 }] });
    await new OrderFlow(t.ctx).reserve(created.body.order.id, {});
    const { code, stdout } = await cli(t, []);
    expect(stdout).toContain('every invariant holds');
    expect(code).toBe(0);
  });

  it('when stock_reserved drifted and a terminal order still holds a reservation, then it reports both and --fix repairs them', async () => {
    const p = await createProduct(t, { stock: 10 });
    const flow = new OrderFlow(t.ctx);
    const orphan = await t.http.post('/orders').send({ customerId: 'cust_check_bad', items: [{ sku: p.sku, quantity: 3 }] });
    await flow.reserve(orphan.body.order.id, {});
    // Break it the way a buggy deploy or a manual edit would.
    await t.query(`UPDATE "Orders" SET status = 'failed', failure_reason = 'PAYMENT_DECLINED' WHERE id = $1`, [orphan.body.order.id]);
    await t.query(`INSERT INTO "Order_Logs" (order_id, event, message) VALUES ($1, 'ORDER_FAILED', 'failed by a buggy path that forgot the stock')`, [orphan.body.order.id]);
    const drifted = await createProduct(t, { stock: 10 });
    await t.query('UPDATE "Products" SET stock_reserved = 4 WHERE id = $1', [drifted.id]);

    const report = await cli(t, []);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain(`[ORPHANED_RESERVATION] reservation`);
    expect(report.stdout).toContain(`[RESERVED_MISMATCH] ${drifted.sku}: stock_reserved is 4 but its active reservations hold 0`);

    const fixed = await cli(t, ['--fix']);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain(`released orphaned reservation`);
    expect(fixed.stdout).toContain(`set ${p.sku} stock_reserved 3 -> 0`);
    expect(fixed.stdout).toContain(`set ${drifted.sku} stock_reserved 4 -> 0`);
    expect(await invariantViolations(t, { requireTerminal: false })).toEqual([]);
    const logs = await t.query<{ message: string }>(`SELECT message FROM "Order_Logs" WHERE order_id = $1 ORDER BY id DESC LIMIT 1`, [orphan.body.order.id]);
    expect(logs[0].message).toMatch(/^Repair: released 3 x/);

    const again = await cli(t, []);
    expect(again.stdout).toContain('every invariant holds');
  });

  it('when an order has sat non-terminal past the limit, then it is reported as stuck and not touched by --fix', async () => {
    const p = await createProduct(t, { stock: 2 });
    const created = await t.http.post('/orders').send({ customerId: 'cust_check_stuck', items: [{ sku: p.sku, quantity: 1 }] });
    await t.query(`UPDATE "Orders" SET updated_at = now() - interval '2 hours' WHERE id = $1`, [created.body.order.id]);
    const report = await checkInventory(t.ctx.sequelize, { fix: true, stuckAfterMinutes: 30 });
    const stuck = report.problems.filter((p) => p.kind === 'STUCK_ORDER');
    expect(stuck.map((s) => s.details.orderId)).toContain(created.body.order.id);
    const [row] = await t.query<{ status: string }>('SELECT status FROM "Orders" WHERE id = $1', [created.body.order.id]);
    expect(row.status).toBe('pending');
    const { code } = await cli(t, ['--fix']);
    expect(code).toBe(1);
  });

  it('when given an unknown flag, then it prints its usage and exits 2', async () => {
    const { code } = await cli(t, ['--frobnicate']);
    expect(code).toBe(2);
  });
});
