import { rows } from '../cluster';
import { createProducts, finalChecks } from '../checks';
import { sendOrders, waitForAllTerminal } from '../load';
import { seconds, startStack, type Scenario } from './common';

const ORDERS = 1_000;
const STOCK = 100;

/**
 * 4. Contention across processes: 1,000 orders of one unit on one SKU with 100 in stock, one API
 * process and two worker processes, a provider that never fails. Exactly 100 complete; every
 * other order is refused 409 at intake or fails OUT_OF_STOCK; stock never goes negative.
 */
export const contention: Scenario = {
  id: 'contention',
  title: '1,000 orders for 100 units of one SKU, 1 API + 2 worker processes',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, { workers: 2, payment: { failureRate: 0, declineRate: 0, lostResponseRate: 0 } });
    try {
      const products = await createProducts(stack.db.pool, 'HOT', 1, STOCK);
      const sku = products[0].sku;
      const startedAt = Date.now();
      const attempts = await sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 32,
        body: (i) => ({ customerId: `cust_${i % 100}`, items: [{ sku, quantity: 1 }] }),
      });
      report.figure('intake', `${seconds(Date.now() - startedAt)} for ${ORDERS} requests at 32 concurrent`);
      await waitForAllTerminal(stack.db.pool, 120_000, (n) => ctx.log(`${n} order(s) still open`));
      report.figure('all orders terminal after', seconds(Date.now() - startedAt));

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });

      const [o] = await rows<{ completed: string; out_of_stock: string; other: string }>(
        stack.db.pool,
        `SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'failed' AND failure_reason = 'OUT_OF_STOCK') AS out_of_stock,
                count(*) FILTER (WHERE NOT (status = 'completed' OR (status = 'failed' AND failure_reason = 'OUT_OF_STOCK'))) AS other
         FROM "Orders"`,
      );
      const refused409 = attempts.filter((a) => a.status === 409 && a.code === 'INSUFFICIENT_STOCK').length;
      const otherAnswers = attempts.filter((a) => a.status !== 202 && !(a.status === 409 && a.code === 'INSUFFICIENT_STOCK')).length;
      report.check('exactly 100 completed (the provider never fails)', Number(o.completed) === STOCK, `${o.completed}`);
      report.check('everything else: 409 at intake or failed OUT_OF_STOCK', Number(o.other) === 0 && otherAnswers === 0
        && Number(o.completed) + Number(o.out_of_stock) + refused409 === ORDERS,
        `${o.completed} completed + ${o.out_of_stock} OUT_OF_STOCK + ${refused409} refused 409 = ${Number(o.completed) + Number(o.out_of_stock) + refused409}; other orders ${o.other}, other answers ${otherAnswers}`);
      const [p] = await rows<{ on_hand: number; reserved: number }>(stack.db.pool, `SELECT stock_on_hand AS on_hand, stock_reserved AS reserved FROM "Products" WHERE sku = $1`, [sku]);
      report.check('the SKU ends at 0 on hand, 0 reserved', p.on_hand === 0 && p.reserved === 0, `${p.on_hand} / ${p.reserved}`);
    } finally {
      await stack.close();
    }
  },
};
