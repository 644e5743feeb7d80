import { sleep } from '../cluster';
import { createProducts, finalChecks, formatCounts } from '../checks';
import { answerCounts, percentile, sendOrders, timedGet, waitForAllTerminal, type OrderAttempt } from '../load';
import { randomItem, seconds, startStack, type Scenario } from './common';

const ORDERS = 300;
const OUTAGE_MS = 10_000;
/** "Quickly": well inside a client's usual timeout, and far from hanging. */
const QUICK_MS = 5_500;

interface Probe {
  at: number;
  what: 'ready' | 'get-order';
  status: number;
  ms: number;
}

/**
 * 2. The database goes away: the scenario's own embedded PostgreSQL is stopped for 10 s in the
 * middle of a run and started again on the same port and data dir. While it is down the API
 * answers 503 quickly (never hangs), /ready is 503; afterwards everything recovers without
 * restarting any process, and every order that got a 202 exists and finishes.
 */
export const databaseOutage: Scenario = {
  id: 'database-outage',
  title: 'PostgreSQL stopped for 10 s mid-run, then started again',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, { workers: 1, mustBeEmbedded: true, payment: { failureRate: 0.2, declineRate: 0, lostResponseRate: 0.05 } });
    try {
      const products = await createProducts(stack.db.pool, 'DBOUT', 5, 5_000);
      const pids = [stack.api, ...stack.workers].map((p) => p.pid());
      const startedAt = Date.now();
      const probes: Probe[] = [];

      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 6,
        perSecond: 10,
        timeoutMs: 20_000,
        body: (i) => ({ customerId: `cust_${i % 30}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 2) }] }),
      });

      // /ready and a read of an order, every 250 ms, all along.
      let probeDone = false;
      const prober = (async () => {
        while (!probeDone) {
          const at = Date.now();
          const [ready, read] = await Promise.all([
            timedGet(`${stack.apiUrl}/ready`, undefined, 20_000),
            timedGet(`${stack.apiUrl}/orders/00000000-0000-4000-8000-000000000000`, stack.token, 20_000),
          ]);
          probes.push({ at, what: 'ready', status: ready.status, ms: ready.ms }, { at, what: 'get-order', status: read.status, ms: read.ms });
          await sleep(250);
        }
      })();

      // The outage: from the moment the server has stopped until it has started again.
      await sleep(8_000);
      await stack.db.stopServer();
      const outage = { from: Date.now(), restarting: 0, to: 0 };
      ctx.log(`PostgreSQL stopped at ${seconds(outage.from - startedAt)}`);
      await sleep(OUTAGE_MS);
      outage.restarting = Date.now();
      await stack.db.startServer();
      outage.to = Date.now();
      ctx.log(`PostgreSQL started again at ${seconds(outage.to - startedAt)} (same port ${stack.db.port}, same data dir)`);

      // Back: the first 200 from /ready after the restart.
      let readyAgainMs = Number.POSITIVE_INFINITY;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        const r = await timedGet(`${stack.apiUrl}/ready`, undefined, 5_000);
        if (r.status === 200) {
          readyAgainMs = Date.now() - outage.to;
          break;
        }
        await sleep(200);
      }
      const attempts = await load;
      probeDone = true;
      await prober;

      // Sent while the server was down or starting (latency), or while it was down (must be 503:
      // a request sent during the restart may legitimately succeed once the server is up).
      const during = (a: { sentAt?: number; at?: number }) => {
        const t = a.sentAt ?? a.at ?? 0;
        return t >= outage.from && t < outage.to;
      };
      const whileDown = (a: { sentAt?: number; at?: number }) => {
        const t = a.sentAt ?? a.at ?? 0;
        return t >= outage.from && t < outage.restarting;
      };
      const inOutage: OrderAttempt[] = attempts.filter((a) => during(a));
      const probesInOutage = probes.filter((p) => during(p));
      const readyInOutage = probesInOutage.filter((p) => p.what === 'ready');
      const readsInOutage = probesInOutage.filter((p) => p.what === 'get-order');
      report.figure('outage', `${seconds(outage.to - outage.from)} (PostgreSQL stopped at ${seconds(outage.from - startedAt)}, down ${seconds(outage.restarting - outage.from)}, restart took ${seconds(outage.to - outage.restarting)})`);
      report.figure('POST /orders/create during the outage', `${inOutage.length}: ${formatCounts(answerCounts(inOutage))}; p50 ${percentile(inOutage.map((a) => a.ms), 50)} ms, max ${Math.max(0, ...inOutage.map((a) => a.ms))} ms`);
      report.figure('GET /ready during the outage', `${readyInOutage.length}: ${formatCounts(countStatus(readyInOutage))}; max ${Math.max(0, ...readyInOutage.map((p) => p.ms))} ms`);
      report.figure('GET /orders/:id during the outage', `${readsInOutage.length}: ${formatCounts(countStatus(readsInOutage))}; max ${Math.max(0, ...readsInOutage.map((p) => p.ms))} ms`);
      report.figure('/ready 200 again after restart', seconds(readyAgainMs));

      const slow = [...inOutage.map((a) => ({ ms: a.ms, status: a.status })), ...probesInOutage].filter((x) => x.status === 0 || x.ms > QUICK_MS);
      report.check(`API answers within ${QUICK_MS} ms while the database is down`, slow.length === 0 && inOutage.length > 0,
        slow.length ? `${slow.length} slow or unanswered, e.g. ${JSON.stringify(slow.slice(0, 3))}` : `${inOutage.length + probesInOutage.length} answers`);
      const not503 = [...inOutage.filter((a) => whileDown(a) && a.status !== 503), ...probesInOutage.filter((p) => whileDown(p) && p.status !== 503)];
      report.check('every answer while the database is down is 503', not503.length === 0,
        not503.length ? formatCounts(countStatus(not503)) : '');
      const readyWhileDown = readyInOutage.filter((p) => whileDown(p));
      report.check('/ready is 503 while the database is down', readyWhileDown.length > 0 && readyWhileDown.every((p) => p.status === 503), formatCounts(countStatus(readyWhileDown)));
      const fiveHundreds = attempts.filter((a) => a.status === 500).length + probes.filter((p) => p.status === 500).length;
      report.check('no 500 at any time', fiveHundreds === 0, `${fiveHundreds}`);
      report.check('recovers without a restart: /ready 200 within 30 s', readyAgainMs <= 30_000, seconds(readyAgainMs));
      const afterRecovery = attempts.filter((a) => a.sentAt >= outage.to + readyAgainMs);
      report.check('orders are accepted again after recovery', afterRecovery.length > 0 && afterRecovery.every((a) => a.status === 202),
        `${afterRecovery.filter((a) => a.status === 202).length} of ${afterRecovery.length} accepted`);
      const samePids = [stack.api, ...stack.workers].every((p, i) => p.running() && p.pid() === pids[i]);
      report.check('no orderloop process restarted or died', samePids);

      await waitForAllTerminal(stack.db.pool, 120_000, (n) => ctx.log(`${n} order(s) still open`));
      report.figure('all orders terminal after', seconds(Date.now() - startedAt));
      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products });
    } finally {
      await stack.close();
    }
  },
};

function countStatus(list: Array<{ status: number }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const x of list) counts[String(x.status)] = (counts[String(x.status)] ?? 0) + 1;
  return counts;
}
