import { QUEUES } from '../../src/queue/queues';
import { rows, sleep } from '../cluster';
import { createProducts, finalChecks } from '../checks';
import { sendOrders, waitForAllTerminal } from '../load';
import { randomItem, seconds, startStack, type Scenario } from './common';

const ORDERS = 500;
const KILLS = 3;

/**
 * 1. kill -9 a worker three times during a 500-order run (payment failure rate 0.3), restarting
 * it each time. The jobs it held come back when they expire (JOB_EXPIRE_S, found by pg-boss
 * maintenance every 30 s); the order's stable payment idempotency key makes the retried charge a
 * replay at the provider, never a second charge.
 */
export const killWorker: Scenario = {
  id: 'kill-worker',
  title: 'kill -9 a worker 3x during 500 orders (payment failures 30%)',
  async run(ctx) {
    const { report } = ctx;
    // 200 ms per provider call (a realistic provider), so a worker always has charges in flight.
    const stack = await startStack(ctx, { workers: 2, payment: { failureRate: 0.3, declineRate: 0.05, lostResponseRate: 0.05, latencyMs: 200 } });
    try {
      const products = await createProducts(stack.db.pool, 'KILL', 5, 5_000);
      const victim = stack.workers[0];
      const startedAt = Date.now();
      const kills: Array<{ at: number; held: number; backAfterMs: number }> = [];

      /**
       * The jobs the victim held: active at the kill and still in that same delivery 3 s later
       * (the other worker finishes its own in well under a second). Then waits until none of
       * them is in that delivery any more: expired by pg-boss maintenance and handed out again.
       */
      const watchReturn = async (ids: string[], killedAt: number): Promise<{ held: number; backAfterMs: number }> => {
        const stillHeld = async () => {
          const jobs = await stack.jobs.jobsById(ids);
          return jobs.filter((j) => j.state === 'active' && j.startedOn !== null && j.startedOn.getTime() <= killedAt).length;
        };
        await sleep(3_000);
        const held = await stillHeld();
        const deadline = killedAt + 120_000;
        while (Date.now() < deadline) {
          if ((await stillHeld()) === 0) return { held, backAfterMs: Date.now() - killedAt };
          await sleep(500);
        }
        return { held, backAfterMs: Number.POSITIVE_INFINITY };
      };

      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 8,
        // About 31 s of arrivals, so that all three kills land while orders still arrive.
        perSecond: 16,
        body: (i) => ({ customerId: `cust_${i % 50}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 3) }] }),
      });

      const chaos = (async () => {
        const watches: Promise<void>[] = [];
        for (let k = 1; k <= KILLS; k += 1) {
          // At 5 s, 14 s and 23 s into the run (later if the previous restart took longer).
          const at = startedAt + 5_000 + (k - 1) * 9_000;
          if (at > Date.now()) await sleep(at - Date.now());
          await victim.kill9();
          const killedAt = Date.now();
          const active = await stack.jobs.activeJobs([QUEUES.ORDER_RESERVE, QUEUES.ORDER_CHARGE, QUEUES.ORDER_CHARGE_DEAD]);
          ctx.log(`kill ${k}: SIGKILL ${victim.name} at ${seconds(killedAt - startedAt)}; ${active.length} order job(s) active in both workers`);
          watches.push(watchReturn(active.map((a) => a.id), killedAt).then((w) => void kills.push({ at: killedAt - startedAt, ...w })));
          await sleep(1_000);
          await victim.restart();
          ctx.log(`kill ${k}: ${victim.name} restarted ${seconds(Date.now() - killedAt)} after the kill`);
        }
        await Promise.all(watches);
      })();

      const attempts = await load;
      ctx.log(`load done in ${seconds(Date.now() - startedAt)}`);
      await chaos;
      await waitForAllTerminal(stack.db.pool, 150_000, (n) => ctx.log(`${n} order(s) still open`));
      report.figure('all orders terminal after', seconds(Date.now() - startedAt));

      kills.sort((a, b) => a.at - b.at);
      report.figure('kills', kills.map((k) => `at ${seconds(k.at)}: ${k.held} job(s) held, back after ${seconds(k.backAfterMs)}`).join('; '));
      // Charge attempts that started (PAYMENT_ATTEMPT logged) but never recorded an outcome: cut off mid-call.
      const [cut] = await rows<{ n: string }>(
        stack.db.pool,
        `SELECT count(*) AS n FROM "Order_Logs" l
         WHERE l.event = 'PAYMENT_ATTEMPT' AND NOT EXISTS (SELECT 1 FROM "Payments" p WHERE p.order_id = l.order_id AND p.attempt = l.attempt)`,
      );
      report.figure('charge attempts cut off mid-call by the kills', Number(cut.n));
      const held = kills.reduce((n, k) => n + k.held, 0);
      report.check('the kills hit a worker holding jobs', held > 0, `${held} job(s) held by the killed worker over ${kills.length} kills`);
      const worst = Math.max(...kills.filter((k) => k.held > 0).map((k) => k.backAfterMs), 0);
      report.check('jobs of a killed worker come back within about a minute', Number.isFinite(worst) && worst <= 75_000, `worst ${seconds(worst)}`);

      const [retried] = await rows<{ n: string; max: number }>(stack.db.pool, `SELECT count(*) FILTER (WHERE payment_attempts > 1) AS n, max(payment_attempts) AS max FROM "Orders"`);
      report.figure('orders that needed more than one payment attempt', `${retried.n} (max ${retried.max} attempts)`);
      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
    } finally {
      await stack.close();
    }
  },
};
