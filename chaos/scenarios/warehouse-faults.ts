import type { Pool } from 'pg';
import { invariantViolations } from '../../tests/helpers/invariants';
import { rows, sleep } from '../cluster';
import { createProducts, finalChecks, type ProductStock } from '../checks';
import { putJson, sendOrders, waitForAllTerminal } from '../load';
import { randomItem, seconds, startStack, type Scenario, type Stack } from './common';

const ORDERS = 300;
const SKUS = 30;
const PAGE_SIZE = 10;

interface SyncRun {
  attempt: number;
  status: string;
  pages: number;
  malformed_count: number;
  error: string | null;
  changes: Array<{ sku: string; before: number; after: number }> | null;
}

/**
 * 5. The warehouse misbehaves during syncs while orders flow: broken rows (negative, missing SKU,
 * fractional quantity), a body that is not JSON, and a warehouse that never answers. Broken
 * rows are skipped and the rest applied, broken pages change nothing, a hang times out, and
 * stock stays consistent throughout: stock_reserved always equals the active reservations, and
 * at the end every unit is accounted for (start + sync changes - units sold = on hand).
 */
export const warehouseFaults: Scenario = {
  id: 'warehouse-faults',
  title: 'warehouse returns garbage or hangs during syncs while orders flow',
  async run(ctx) {
    const { report } = ctx;
    const stack = await startStack(ctx, {
      workers: 1,
      warehouse: true,
      payment: { failureRate: 0.1, declineRate: 0.02, lostResponseRate: 0 },
      env: {
        WAREHOUSE_TIMEOUT_MS: '2000',
        WAREHOUSE_PAGE_SIZE: String(PAGE_SIZE),
        INVENTORY_SYNC_MAX_ATTEMPTS: '2',
        INVENTORY_SYNC_RETRY_DELAY_S: '1',
      },
    });
    try {
      const products = await createProducts(stack.db.pool, 'WH', SKUS, 300);
      const warehouse = stack.warehouseUrl!;
      const setLevels = (quantity: number) => putJson(`${warehouse}/stock`, { replace: true, items: products.map((p) => ({ sku: p.sku, quantity })) });
      await setLevels(300);
      const sorted = products.map((p) => p.sku).sort();
      // The mock breaks the first three rows of every page.
      const brokenSkus = new Set(sorted.filter((_, i) => i % PAGE_SIZE < 3));
      const startedAt = Date.now();
      const consistency: string[] = [];

      const load = sendOrders(stack.apiUrl, stack.token, {
        count: ORDERS,
        concurrency: 4,
        perSecond: 10,
        body: (i) => ({ customerId: `cust_${i % 30}`, items: [{ sku: randomItem(products).sku, quantity: 1 + (i % 3) }] }),
      });

      const phases: Array<{ name: string; config: Record<string, unknown>; level: number; expect: (runs: SyncRun[]) => string | null }> = [
        {
          name: 'broken rows',
          config: { malformed: 'rows' },
          level: 250,
          expect: (runs) => {
            const last = runs[runs.length - 1];
            if (last?.status !== 'succeeded') return `run ${last?.status}: ${last?.error}`;
            if (last.malformed_count !== brokenSkus.size) return `${last.malformed_count} malformed rows recorded, expected ${brokenSkus.size}`;
            const touched = (last.changes ?? []).filter((c) => brokenSkus.has(c.sku));
            return touched.length ? `broken rows were applied: ${touched.map((c) => c.sku).join(', ')}` : null;
          },
        },
        {
          name: 'body not JSON',
          config: { malformed: 'body' },
          level: 200,
          expect: (runs) => (runs.length === 2 && runs.every((r) => r.status === 'failed' && r.pages === 0 && !(r.changes ?? []).length)
            ? null : `runs: ${JSON.stringify(runs.map((r) => [r.status, r.pages, r.error]))}`),
        },
        {
          name: 'warehouse hangs',
          config: { malformed: 'none', hang: true },
          level: 200,
          expect: (runs) => (runs.length === 2 && runs.every((r) => r.status === 'failed' && r.pages === 0 && /did not answer|TIMEOUT/i.test(r.error ?? ''))
            ? null : `runs: ${JSON.stringify(runs.map((r) => [r.status, r.pages, r.error]))}`),
        },
        {
          name: 'healthy again (restock)',
          config: { malformed: 'none', hang: false },
          level: 400,
          expect: (runs) => (runs.length === 1 && runs[0].status === 'succeeded' && runs[0].pages === SKUS / PAGE_SIZE ? null : `runs: ${JSON.stringify(runs.map((r) => [r.status, r.pages, r.error]))}`),
        },
      ];

      await sleep(2_000);
      for (const phase of phases) {
        await putJson(`${warehouse}/config`, phase.config);
        await setLevels(phase.level);
        const t0 = Date.now();
        const runs = await syncAndWait(stack, 60_000);
        const problem = phase.expect(runs);
        report.figure(`sync: ${phase.name}`, `${runs.map((r) => `${r.status} (${r.pages} page(s), ${r.malformed_count} malformed${r.error ? `, ${r.error.slice(0, 70)}` : ''})`).join(' then ')} in ${seconds(Date.now() - t0)}`);
        report.check(`sync with ${phase.name} behaves`, problem === null, problem ?? '');
        const violations = await consistent(stack.db.pool);
        consistency.push(...violations.map((v) => `${phase.name}: ${v}`));
      }
      await putJson(`${warehouse}/config`, { hang: false, malformed: 'none' });

      const attempts = await load;
      await waitForAllTerminal(stack.db.pool, 120_000, (n) => ctx.log(`${n} order(s) still open`));
      report.figure('all orders terminal after', seconds(Date.now() - startedAt));
      report.check('stock consistent after every sync, while orders flowed', consistency.length === 0, consistency.slice(0, 5).join('; '));

      // Every unit accounted for: start + what syncs changed - what completed orders took = on hand.
      const ledger = await ledgerProblems(stack.db.pool, products);
      report.check('stock adds up (start + sync changes - sold = on hand)', ledger.problems.length === 0, ledger.problems.slice(0, 5).join('; ') || ledger.summary);
      report.figure('ledger', ledger.summary);

      await finalChecks(report, { pool: stack.db.pool, cluster: stack.cluster, paymentUrl: stack.paymentUrl, attempts, products, stockFromOrdersOnly: false });

      // A last healthy sync once nothing is reserved: on hand is exactly the warehouse's figure.
      await setLevels(500);
      const last = await syncAndWait(stack, 60_000);
      const off = await rows<{ sku: string; on_hand: number }>(stack.db.pool, `SELECT sku, stock_on_hand AS on_hand FROM "Products" WHERE id = ANY($1::int[]) AND stock_on_hand <> 500`, [products.map((p) => p.id)]);
      report.check('a healthy sync afterwards sets every SKU to the warehouse level', last.at(-1)?.status === 'succeeded' && off.length === 0,
        off.length ? off.slice(0, 5).map((o) => `${o.sku}=${o.on_hand}`).join(', ') : '');
    } finally {
      await stack.close();
    }
  },
};

/** POST /inventory/sync as admin, then waits until its pg-boss job is completed or failed (after retries). */
async function syncAndWait(stack: Stack, timeoutMs: number): Promise<SyncRun[]> {
  const res = await fetch(`${stack.apiUrl}/inventory/sync`, { method: 'POST', headers: { Authorization: `Bearer ${stack.token}` } });
  const body = (await res.json()) as { jobId?: string };
  if (res.status !== 202 || !body.jobId) throw new Error(`POST /inventory/sync answered ${res.status}: ${JSON.stringify(body)}`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [job] = await stack.jobs.jobsById([body.jobId]);
    if (job && (job.state === 'completed' || job.state === 'failed')) {
      return rows<SyncRun>(
        stack.db.pool,
        `SELECT attempt, status, pages, malformed_count, error, changes FROM "Inventory_Syncs" WHERE job_id = $1 ORDER BY attempt, id`,
        [body.jobId],
      );
    }
    await sleep(250);
  }
  throw new Error(`inventory sync job ${body.jobId} did not finish within ${timeoutMs} ms`);
}

/** The stock invariants that must hold at every moment, orders in flight or not. */
async function consistent(pool: Pool): Promise<string[]> {
  return invariantViolations({ query: <T extends object>(sql: string, bind: unknown[] = []) => rows<T>(pool, sql, bind) }, { requireTerminal: false });
}

async function ledgerProblems(pool: Pool, products: ProductStock[]): Promise<{ problems: string[]; summary: string }> {
  const runs = await rows<{ changes: Array<{ sku: string; before: number; after: number }> | null }>(pool, `SELECT changes FROM "Inventory_Syncs"`);
  const synced = new Map<string, number>();
  for (const run of runs) for (const c of run.changes ?? []) synced.set(c.sku, (synced.get(c.sku) ?? 0) + c.after - c.before);
  const stock = await rows<{ sku: string; on_hand: number; sold: string }>(
    pool,
    `SELECT p.sku, p.stock_on_hand AS on_hand,
            COALESCE((SELECT sum(i.quantity) FROM "Order_Items" i JOIN "Orders" o ON o.id = i.order_id
                      WHERE i.product_id = p.id AND o.status = 'completed'), 0)::text AS sold
     FROM "Products" p WHERE p.id = ANY($1::int[])`,
    [products.map((p) => p.id)],
  );
  const problems: string[] = [];
  let start = 0;
  let change = 0;
  let sold = 0;
  let onHand = 0;
  for (const s of stock) {
    const initial = products.find((p) => p.sku === s.sku)!.initialOnHand;
    const delta = synced.get(s.sku) ?? 0;
    start += initial;
    change += delta;
    sold += Number(s.sold);
    onHand += s.on_hand;
    if (initial + delta - Number(s.sold) !== s.on_hand) problems.push(`${s.sku}: ${initial} + ${delta} - ${s.sold} != ${s.on_hand}`);
  }
  return { problems, summary: `start ${start} + sync changes ${change} - sold ${sold} = ${start + change - sold}; on hand ${onHand}` };
}
