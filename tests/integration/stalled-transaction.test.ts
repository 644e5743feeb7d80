import { QueryTypes } from 'sequelize';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * A process that stops mid-transaction (a frozen worker, a VM paused) must not hold its row locks
 * for ever: PostgreSQL ends its session after DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, and whatever
 * waited on those locks goes on.
 */
describe('a transaction left open by a stalled process', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '1500' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('when a connection holds an order locked and then sends nothing, then a cancel of that order goes through once the timeout ends its session', async () => {
    const product = await createProduct({ stock: 5 });
    const order = (await t.http.post('/orders').send({ customerId: 'cust_stalled', items: [{ sku: product.sku, quantity: 1 }] })).body.order;

    // The stalled process: takes the order's row lock inside a transaction, then goes silent.
    const stalled = t.ctx.sequelize.transaction(async (transaction) => {
      await t.ctx.sequelize.query('SELECT id FROM "Orders" WHERE id = $1 FOR UPDATE', { bind: [order.id], transaction, type: QueryTypes.SELECT });
      await new Promise((r) => setTimeout(r, 5_000));
      await t.ctx.sequelize.query('SELECT 1', { transaction, type: QueryTypes.SELECT });
    });
    const stalledOutcome = stalled.then(() => 'committed', () => 'ended by the database');
    await new Promise((r) => setTimeout(r, 200));

    const res = await t.http.post(`/orders/${order.id}/cancel`).send({});
    expect(res.status).toBe(200);
    expect(res.body.order.status).toBe('cancelled');
    // Released because the database ended the silent session, not because it went on and committed.
    expect(await stalledOutcome).toBe('ended by the database');
  });
});
