import { rows, sleep } from '../cluster';
import { createProducts, finalChecks } from '../checks';
import { putJson, sendOrders, waitForAllTerminal } from '../load';
import { randomItem, seconds, startStack, type Scenario } from './common';

const ORDERS = 200;
const OUTAGE_MS = 30_000;

/**
 * 3. The payment provider is down for 30 s (every charge answers 503). Orders keep being
 * accepted and reserved, their charges wait in retry (12 attempts 5 s apart span the outage),
 * and all of them complete once it is back; 10% of the successful charges lose their response,
 * so the retry's replay of the idempotency key is what keeps anyone from being charged twice.
 */
export const paymentOutage: Scenario = {
  id: 'payment-outage',
  title: 'payment provider down for 30 s',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, {
      workers: 1,
      payment: { failureRate: 0, declineRate: 0, lostResponseRate: 0.1 },
      env: { PAYMENT_MAX_ATTEMPTS: '12', PAYMENT_RETRY_DELAY_S: '5', PAYMENT_RETRY_BACKOFF: 'false' },
    });
    try {
      const products = await createProducts(stack.db.pool, 'PAYOUT', 5, 5_000);
      const startedAt = Date.now();
      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 4,
        perSecond: 20,
        body: (i) => ({ customerId: `cust_${i % 40}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 3) }] }),
      });

      await sleep(2_000);
      await putJson(`${stack.paymentUrl}/config`, { down: true });
      const downAt = Date.now();
      ctx.log(`provider down at ${seconds(downAt - startedAt)}`);
      await sleep(OUTAGE_MS / 2);
      const [midway] = await rows<{ reserved: string; completed: string }>(
        stack.db.pool,
        `SELECT count(*) FILTER (WHERE status = 'reserved') AS reserved, count(*) FILTER (WHERE status = 'completed') AS completed FROM "Orders"`,
      );
      await sleep(OUTAGE_MS / 2);
      const [atReturn] = await rows<{ reserved: string; completed: string; failed: string }>(
        stack.db.pool,
        `SELECT count(*) FILTER (WHERE status = 'reserved') AS reserved, count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) FILTER (WHERE status = 'failed') AS failed FROM "Orders"`,
      );
      await putJson(`${stack.paymentUrl}/config`, { down: false });
      const upAt = Date.now();
      ctx.log(`provider back at ${seconds(upAt - startedAt)}; ${atReturn.reserved} order(s) waiting in retry`);

      const attempts = await load;
      await waitForAllTerminal(stack.db.pool, 120_000, (n) => ctx.log(`${n} order(s) still open`));
      const drained = Date.now() - upAt;

      const [retries] = await rows<{ waited: string; max: number; failed_attempts: string }>(
        stack.db.pool,
        `SELECT (SELECT count(*) FROM "Orders" WHERE payment_attempts > 1) AS waited, (SELECT max(payment_attempts) FROM "Orders") AS max,
                (SELECT count(*) FROM "Payments" WHERE outcome = 'failed') AS failed_attempts`,
      );
      report.figure('outage', `${seconds(upAt - downAt)} (from ${seconds(downAt - startedAt)})`);
      report.figure('orders waiting in retry midway / at the return', `${midway.reserved} / ${atReturn.reserved} (completed so far ${midway.completed} / ${atReturn.completed})`);
      report.figure('orders that needed more than one payment attempt', `${retries.waited} (max ${retries.max} attempts, ${retries.failed_attempts} failed attempts recorded)`);
      report.figure('all orders terminal after the return', seconds(drained));
      report.check('no order failed while the provider was down', Number(atReturn.failed) === 0, `${atReturn.failed} failed`);
      report.check('orders waited in retry during the outage', Number(atReturn.reserved) > 0, `${atReturn.reserved} reserved at the return`);

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
      const accepted = attempts.filter((a) => a.status === 202).length;
      const [done] = await rows<{ completed: string }>(stack.db.pool, `SELECT count(*) AS completed FROM "Orders" WHERE status = 'completed'`);
      report.check('every accepted order completed after the provider returned', Number(done.completed) === accepted && accepted === ORDERS, `${done.completed} of ${accepted} (sent ${ORDERS})`);
    } finally {
      await stack.close();
    }
  },
};
