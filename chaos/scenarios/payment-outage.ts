import { rows, sleep } from '../cluster';
import { createProducts, finalChecks } from '../checks';
import { putJson, sendOrders, waitForAllTerminal } from '../load';
import { randomItem, seconds, startStack, type Scenario } from './common';

const ORDERS = 300;
const OUTAGE_MS = 180_000;
/** The orders arrive at a steady rate from 2 s before the outage until well inside it. */
const LEAD_MS = 2_000;
const PER_SECOND = 2;
/** The proof: the provider saw fewer than this many calls per order, outage included. */
const MAX_CALLS_PER_ORDER = 2;

interface ProviderCalls {
  charges: number;
  chargeLookups: number;
  refunds: number;
  refundLookups: number;
}

const totalCalls = (c: ProviderCalls) => c.charges + c.chargeLookups + c.refunds + c.refundLookups;
const minus = (a: ProviderCalls, b: ProviderCalls): ProviderCalls => ({
  charges: a.charges - b.charges,
  chargeLookups: a.chargeLookups - b.chargeLookups,
  refunds: a.refunds - b.refunds,
  refundLookups: a.refundLookups - b.refundLookups,
});
const describeCalls = (c: ProviderCalls) => `${totalCalls(c)} (charges ${c.charges}, charge lookups ${c.chargeLookups}, refunds ${c.refunds}, refund lookups ${c.refundLookups})`;

async function providerCalls(paymentUrl: string): Promise<ProviderCalls> {
  const res = await fetch(`${paymentUrl}/load`);
  const body = (await res.json()) as { calls?: ProviderCalls };
  if (res.status !== 200 || !body.calls) throw new Error(`GET ${paymentUrl}/load answered ${res.status} without calls: ${JSON.stringify(body)}`);
  return body.calls;
}

/**
 * 3. The payment provider is down for 3 minutes (every call answers 503) while 300 orders arrive
 * at a steady rate, and the service runs with its DEFAULT payment settings (no PAYMENT_* nor
 * PAYMENT_CIRCUIT_* override: 5 attempts, 3 s timeout, the circuit breaker on). The breaker opens
 * after the first failures, charges wait without spending their attempts while it is open, one
 * probe goes through when it half-opens, and it closes when the provider answers again: no order
 * fails, every order completes after the return, nobody is charged twice (10% of the successful
 * charges lose their response), and the provider sees fewer than 2 calls per order in all.
 */
export const paymentOutage: Scenario = {
  id: 'payment-outage',
  title: 'payment provider down for 3 min during 300 orders, default payment settings (circuit breaker)',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, {
      workers: 1,
      payment: { failureRate: 0, declineRate: 0, lostResponseRate: 0.1 },
      paymentDefaults: true,
    });
    try {
      const products = await createProducts(stack.db.pool, 'PAYOUT', 5, 5_000);
      const startedAt = Date.now();
      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 4,
        perSecond: PER_SECOND,
        body: (i) => ({ customerId: `cust_${i % 40}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 3) }] }),
      });

      await sleep(LEAD_MS);
      const callsAtDown = await providerCalls(stack.paymentUrl);
      await putJson(`${stack.paymentUrl}/config`, { down: true });
      const downAt = Date.now();
      ctx.log(`provider down at ${seconds(downAt - startedAt)} (${describeCalls(callsAtDown)} calls so far)`);

      const openCounts = () => rows<{ reserved: string; pending: string; completed: string; failed: string }>(
        stack.db.pool,
        `SELECT count(*) FILTER (WHERE status = 'reserved') AS reserved, count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed FROM "Orders"`,
      ).then((r) => r[0]);
      let failedDuringOutage = 0;
      let midway: Awaited<ReturnType<typeof openCounts>> | undefined;
      // Every 15 s while it is down: how many wait, and that none failed.
      while (Date.now() - downAt < OUTAGE_MS) {
        await sleep(Math.min(15_000, OUTAGE_MS - (Date.now() - downAt)));
        const now = await openCounts();
        failedDuringOutage = Math.max(failedDuringOutage, Number(now.failed));
        if (!midway && Date.now() - downAt >= OUTAGE_MS / 2) midway = now;
        const calls = minus(await providerCalls(stack.paymentUrl), callsAtDown);
        ctx.log(`down for ${seconds(Date.now() - downAt)}: ${now.reserved} reserved, ${now.pending} pending, ${now.completed} completed, ${now.failed} failed; ${totalCalls(calls)} call(s) since it went down`);
      }
      const atReturn = await openCounts();
      const callsAtUp = await providerCalls(stack.paymentUrl);
      await putJson(`${stack.paymentUrl}/config`, { down: false });
      const upAt = Date.now();
      failedDuringOutage = Math.max(failedDuringOutage, Number(atReturn.failed));
      ctx.log(`provider back at ${seconds(upAt - startedAt)}; ${atReturn.reserved} order(s) waiting`);

      const attempts = await load;
      const stillOpen = await waitForAllTerminal(stack.db.pool, 180_000, (n) => ctx.log(`${n} order(s) still open`));
      const drained = Date.now() - upAt;
      // Before finalChecks, whose own GET /charges and /refunds the provider would count too.
      const callsAtEnd = await providerCalls(stack.paymentUrl);
      const whileDown = minus(callsAtUp, callsAtDown);

      const [retries] = await rows<{ waited: string; max: number | null; failed_attempts: string; deferred: string }>(
        stack.db.pool,
        `SELECT (SELECT count(*) FROM "Orders" WHERE payment_attempts > 1) AS waited, (SELECT max(payment_attempts) FROM "Orders") AS max,
                (SELECT count(*) FROM "Payments" WHERE outcome = 'failed') AS failed_attempts,
                (SELECT count(DISTINCT order_id) FROM "Order_Logs" WHERE event = 'PAYMENT_DEFERRED') AS deferred`,
      );
      const accepted = attempts.filter((a) => a.status === 202).length;
      const perOrder = totalCalls(callsAtEnd) / ORDERS;
      report.figure('payment settings', 'the service\'s defaults (no PAYMENT_* or PAYMENT_CIRCUIT_* set)');
      report.figure('outage', `${seconds(upAt - downAt)} (from ${seconds(downAt - startedAt)}); orders sent at ${PER_SECOND}/s over ${seconds(ORDERS * 1000 / PER_SECOND)}`);
      report.figure('orders waiting midway / at the return', midway
        ? `${midway.reserved} reserved + ${midway.pending} pending / ${atReturn.reserved} reserved + ${atReturn.pending} pending (completed so far ${midway.completed} / ${atReturn.completed})`
        : `${atReturn.reserved} reserved at the return`);
      report.figure('provider calls in total', describeCalls(callsAtEnd));
      report.figure('provider calls per order', perOrder.toFixed(2));
      report.figure('provider calls while down', describeCalls(whileDown));
      report.figure('charge calls during the outage', whileDown.charges);
      report.figure('orders whose charge was deferred (circuit open)', Number(retries.deferred));
      report.figure('orders that needed more than one payment attempt', `${retries.waited} (max payment_attempts ${retries.max ?? 0}, ${retries.failed_attempts} failed attempts recorded)`);
      report.figure('all orders terminal after the return', stillOpen ? `not within ${seconds(drained)} (${stillOpen} open)` : seconds(drained));

      report.check('no order failed while the provider was down', failedDuringOutage === 0, `${failedDuringOutage} failed`);
      report.check('orders waited during the outage', Number(atReturn.reserved) + Number(atReturn.pending) > 0, `${atReturn.reserved} reserved, ${atReturn.pending} pending at the return`);
      report.check(`the provider received fewer than ${MAX_CALLS_PER_ORDER} calls per order`, perOrder < MAX_CALLS_PER_ORDER,
        `${totalCalls(callsAtEnd)} calls for ${ORDERS} orders = ${perOrder.toFixed(2)} per order; ${whileDown.charges} charge call(s) while down`);

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
      const [done] = await rows<{ completed: string }>(stack.db.pool, `SELECT count(*) AS completed FROM "Orders" WHERE status = 'completed'`);
      report.check('every order completed after the provider returned', Number(done.completed) === accepted && accepted === ORDERS, `${done.completed} of ${accepted} (sent ${ORDERS})`);
    } finally {
      await stack.close();
    }
  },
};
