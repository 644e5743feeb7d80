import { rows, sleep } from '../cluster';
import { createProducts, finalChecks, providerList, type ProviderCharge, type ProviderRefund } from '../checks';
import { sendOrders, waitForAllTerminal } from '../load';
import { QUEUES } from '../../src/queue/queues';
import { CHAOS_ENV, randomItem, seconds, startStack, type Scenario, type Stack } from './common';

const ORDERS = 80;
/** The provider takes this long to answer a charge, so the worker always has some in flight. */
const LATENCY_MS = 400;
/** Pause the worker once at least this many charge calls are in flight at the provider. */
const IN_FLIGHT = 3;
/** The payment lease: ceil(PAYMENT_TIMEOUT_MS / 1000) + 10 s (src/modules/orders/lifecycle.ts). */
const LEASE_MS = (Math.ceil(Number(CHAOS_ENV.PAYMENT_TIMEOUT_MS) / 1000) + 10) * 1000;
/** Cancel this long after the pause: every lease taken before it has run out. */
const CANCEL_AFTER_MS = LEASE_MS + 1_000;
/** Resume after this long: past the lease, well short of the jobs' expiry (JOB_EXPIRE_S below). */
const PAUSE_MS = LEASE_MS + 3_000;
const JOB_EXPIRE_S = 30;
/**
 * Orders completed before the pause: the circuit breaker's window then holds successes, so the
 * calls that time out when the worker wakes do not open it. CHAOS_LATE_CHARGE_WARMUP=0 pauses
 * as soon as charges are in flight: the timeouts open the circuit and the lookups are refused,
 * so the charges made meanwhile are found by the check one lease after each close instead.
 */
const WARM_UP_COMPLETED = Number(process.env.CHAOS_LATE_CHARGE_WARMUP ?? 20);
/** Completed orders an admin refunds at the end (POST /orders/:id/refund). */
const ADMIN_REFUNDS = 4;

/** Waits until the payment queues hold no job still to run (a retry that might yet find a charge included). */
async function paymentJobsSettled(stack: Stack, timeoutMs: number): Promise<number> {
  const queues: string[] = [QUEUES.ORDER_CHARGE, QUEUES.ORDER_CHARGE_DEAD, QUEUES.ORDER_REFUND];
  const deadline = Date.now() + timeoutMs;
  let waiting = 0;
  while (Date.now() < deadline) {
    const counts = await stack.jobs.countsByQueueAndState();
    waiting = counts.filter((c) => queues.includes(c.queue) && ['created', 'retry', 'active'].includes(c.state)).reduce((n, c) => n + c.count, 0);
    if (waiting === 0) return 0;
    await sleep(500);
  }
  return waiting;
}

async function post(url: string, token: string): Promise<{ status: number; body: { order?: { status?: string }; error?: { code?: string; details?: { paymentInProgress?: boolean } } } }> {
  const res = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
  return { status: res.status, body: (await res.json()) as never };
}

/**
 * 7. A charge outlives its payment lease: the only worker is frozen (SIGSTOP) with charge calls
 * in flight at a provider that answers in 400 ms, for longer than the lease (11 s) but not as long
 * as its jobs' expiry; once the leases have run out the orders still reserved are cancelled through
 * the API, then the worker is resumed (SIGCONT). The charges the provider made meanwhile land on
 * cancelled orders: each is recorded and refunded in full by the refund job, and the order stays
 * cancelled. Then an admin refunds a few completed orders (POST /orders/:id/refund) so the
 * refunded path is in the final money checks too.
 */
export const lateCharge: Scenario = {
  id: 'late-charge',
  title: 'a charge lands after its order was cancelled (worker frozen past its payment lease): refunded automatically',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, {
      workers: 1,
      payment: { failureRate: 0, declineRate: 0, lostResponseRate: 0, latencyMs: LATENCY_MS },
      env: { JOB_EXPIRE_S: String(JOB_EXPIRE_S) },
    });
    const worker = stack.workers[0];
    try {
      const products = await createProducts(stack.db.pool, 'LATE', 5, 1_000);
      const startedAt = Date.now();
      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 4,
        perSecond: 20,
        body: (i) => ({ customerId: `cust_${i % 20}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 2) }] }),
      });

      // Freeze the worker while the provider is answering some of its charges, once the run is warm.
      let inFlight = 0;
      let completedBefore = 0;
      const waitUntil = Date.now() + 20_000;
      while (Date.now() < waitUntil) {
        if (completedBefore < WARM_UP_COMPLETED) {
          completedBefore = Number((await rows<{ n: string }>(stack.db.pool, `SELECT count(*) AS n FROM "Orders" WHERE status = 'completed'`))[0].n);
        }
        inFlight = ((await (await fetch(`${stack.paymentUrl}/load`)).json()) as { inFlight: number }).inFlight;
        if (completedBefore >= WARM_UP_COMPLETED && inFlight >= IN_FLIGHT) break;
        await sleep(10);
      }
      worker.pause();
      const pausedAt = Date.now();
      ctx.log(`SIGSTOP ${worker.name} at ${seconds(pausedAt - startedAt)} with ${inFlight} charge call(s) in flight at the provider, ${completedBefore} order(s) completed`);
      let cancelled = 0;
      const cancelAnswers: Record<string, number> = {};
      try {
        await sleep(CANCEL_AFTER_MS);
        const reserved = await rows<{ id: string }>(stack.db.pool, `SELECT id FROM "Orders" WHERE status = 'reserved' ORDER BY created_at`);
        for (const o of reserved) {
          let res = await post(`${stack.apiUrl}/orders/${o.id}/cancel`, stack.token);
          if (res.status === 409 && res.body.error?.details?.paymentInProgress) {
            await sleep(300);
            res = await post(`${stack.apiUrl}/orders/${o.id}/cancel`, stack.token);
          }
          const key = `${res.status}${res.body.error?.code ? ` ${res.body.error.code}` : ''}`;
          cancelAnswers[key] = (cancelAnswers[key] ?? 0) + 1;
          if (res.status === 200 && res.body.order?.status === 'cancelled') cancelled += 1;
        }
        ctx.log(`cancelled ${cancelled} of ${reserved.length} reserved order(s) ${seconds(Date.now() - pausedAt)} after the pause (${JSON.stringify(cancelAnswers)})`);
        const rest = pausedAt + PAUSE_MS - Date.now();
        if (rest > 0) await sleep(rest);
      } finally {
        worker.resume();
      }
      const resumedAt = Date.now();
      ctx.log(`SIGCONT ${worker.name} after ${seconds(resumedAt - pausedAt)}`);

      const attempts = await load;
      let open = await waitForAllTerminal(stack.db.pool, 60_000, (n) => ctx.log(`${n} order(s) or refund(s) still open`));
      // A charge retried after the pause may still find a charge the provider made, and request its refund.
      open += await paymentJobsSettled(stack, 45_000);
      open += await waitForAllTerminal(stack.db.pool, 30_000);
      report.figure('worker frozen', `${seconds(resumedAt - pausedAt)} (lease ${seconds(LEASE_MS)}, job expiry ${JOB_EXPIRE_S} s) with ${inFlight} charge call(s) in flight, after ${completedBefore} completed`);
      report.figure('orders cancelled while it was frozen', `${cancelled} (answers ${JSON.stringify(cancelAnswers)})`);
      report.figure('orders and refunds settled after the resume', open ? `not within ${seconds(Date.now() - resumedAt)} (${open} open)` : seconds(Date.now() - resumedAt));

      // The late charges: cancelled orders the provider holds a successful charge for.
      const charges = (await providerList<ProviderCharge>(`${stack.paymentUrl}/charges`)).filter((c) => c.status === 'succeeded');
      const refunds = await providerList<ProviderRefund>(`${stack.paymentUrl}/refunds`);
      const statuses = new Map((await rows<{ id: string; status: string }>(stack.db.pool, `SELECT id, status FROM "Orders"`)).map((o) => [o.id, o.status]));
      const late = charges.filter((c) => statuses.get(c.orderId) === 'cancelled');
      report.figure('late charges (cancelled orders the provider charged)', late.length);
      report.check('the scenario produced at least one late charge', late.length > 0, `${late.length} late charge(s) from ${cancelled} cancellation(s)`);

      const notRefunded = late.filter((c) => {
        const rs = refunds.filter((r) => r.chargeId === c.id);
        return rs.length !== 1 || rs[0].amountCents !== c.amountCents || rs[0].orderId !== c.orderId;
      });
      report.figure('late charges refunded at the provider', late.length - notRefunded.length);
      // Two ways the service learns of one: the call's late answer (the flow), or the check one lease after the close (a lookup).
      const [found] = await rows<{ by_answer: string; by_check: string }>(
        stack.db.pool,
        `SELECT count(*) FILTER (WHERE NOT COALESCE((details->>'foundByLookup')::boolean, false)) AS by_answer,
                count(*) FILTER (WHERE COALESCE((details->>'foundByLookup')::boolean, false)) AS by_check
         FROM "Order_Logs" WHERE event = 'PAYMENT_SUCCEEDED' AND COALESCE((details->>'lateCharge')::boolean, false)`,
      );
      report.figure('late charges found by the call\'s own answer / by the check one lease after the close', `${found.by_answer} / ${found.by_check}`);
      report.check('every late charge has exactly one refund of its full amount at the provider', notRefunded.length === 0,
        notRefunded.length ? notRefunded.slice(0, 3).map((c) => `${c.orderId}: charge ${c.amountCents}, refunds ${JSON.stringify(refunds.filter((r) => r.chargeId === c.id).map((r) => r.amountCents))}`).join('; ') : `${late.length} of ${late.length}`);

      const stories = late.length
        ? await rows<{ order_id: string; events: string[] }>(
          stack.db.pool,
          `SELECT order_id, array_agg(event ORDER BY id) AS events FROM "Order_Logs" WHERE order_id = ANY($1::uuid[]) GROUP BY order_id`,
          [late.map((c) => c.orderId)],
        )
        : [];
      const untold = late.filter((c) => {
        const events = stories.find((s) => s.order_id === c.orderId)?.events ?? [];
        const cancelledAt = events.indexOf('ORDER_CANCELLED');
        const requested = events.indexOf('REFUND_REQUESTED');
        return cancelledAt < 0 || requested < cancelledAt || events.indexOf('REFUND_SUCCEEDED') < requested;
      });
      report.check('each late-charged order\'s story: ORDER_CANCELLED, then REFUND_REQUESTED, then REFUND_SUCCEEDED', untold.length === 0,
        untold.length ? untold.slice(0, 3).map((c) => `${c.orderId}: ${(stories.find((s) => s.order_id === c.orderId)?.events ?? []).join(' > ')}`).join('; ') : `${late.length} of ${late.length}`);
      const [dbLate] = await rows<{ payments: string; refunds: string }>(
        stack.db.pool,
        `SELECT (SELECT count(*) FROM "Payments" p JOIN "Orders" o ON o.id = p.order_id WHERE o.status = 'cancelled' AND p.outcome = 'succeeded') AS payments,
                (SELECT count(*) FROM "Refunds" r JOIN "Orders" o ON o.id = r.order_id WHERE o.status = 'cancelled' AND r.reason = 'late_charge' AND r.status = 'succeeded') AS refunds`,
      );
      report.check('the database records each late charge and its refund', Number(dbLate.payments) === late.length && Number(dbLate.refunds) === late.length,
        `${dbLate.payments} successful payment(s) and ${dbLate.refunds} late_charge refund(s) on cancelled orders, ${late.length} at the provider`);

      // An admin refunds a few completed orders in full: the refunded path, in the final money checks.
      const completed = await rows<{ id: string }>(stack.db.pool, `SELECT id FROM "Orders" WHERE status = 'completed' ORDER BY created_at LIMIT $1`, [ADMIN_REFUNDS]);
      const refundAnswers: Record<string, number> = {};
      for (const o of completed) {
        const res = await post(`${stack.apiUrl}/orders/${o.id}/refund`, stack.token);
        refundAnswers[res.status] = (refundAnswers[res.status] ?? 0) + 1;
      }
      await waitForAllTerminal(stack.db.pool, 30_000);
      const [refunded] = await rows<{ n: string }>(stack.db.pool, `SELECT count(*) AS n FROM "Orders" WHERE status = 'refunded' AND id = ANY($1::uuid[])`, [completed.map((o) => o.id)]);
      report.figure('completed orders refunded by an admin', `${refunded.n} of ${completed.length} (answers ${JSON.stringify(refundAnswers)})`);
      report.check('an admin\'s refunds of completed orders end refunded', completed.length > 0 && Number(refunded.n) === completed.length, `${refunded.n} of ${completed.length}`);

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
    } finally {
      worker.resume();
      await stack.close();
    }
  },
};
