import { QueryTypes, type Sequelize } from 'sequelize';
import type { Logger } from '../../shared/logger';
import { appendOrderLogs } from '../orders/order-log';

/** One broken invariant, as `npm run inventory:check` reports it. */
export interface IntegrityProblem {
  kind: 'RESERVED_MISMATCH' | 'ON_HAND_BELOW_RESERVED' | 'ORPHANED_RESERVATION' | 'STUCK_ORDER';
  message: string;
  details: Record<string, unknown>;
  fixable: boolean;
}

export interface IntegrityReport {
  problems: IntegrityProblem[];
  repairs: string[];
}

/**
 * Finds every broken stock invariant; with `fix`, releases reservations left behind by terminal
 * orders and recomputes each product's stock_reserved from its active reservations, one
 * transaction, products locked in id order like every other stock change.
 */
export async function checkInventory(
  sequelize: Sequelize,
  options: { fix: boolean; stuckAfterMinutes: number; logger?: Logger },
): Promise<IntegrityReport> {
  const problems = await findProblems(sequelize, options.stuckAfterMinutes);
  const repairs: string[] = [];
  if (!options.fix || !problems.some((p) => p.fixable)) return { problems, repairs };

  await sequelize.transaction(async (transaction) => {
    await sequelize.query('SELECT id FROM "Products" ORDER BY id FOR UPDATE', { transaction });
    const released = await sequelize.query<{ id: string; order_id: string; sku: string; quantity: number; status: string }>(
      `UPDATE "Stock_Reservations" r SET status = 'released', updated_at = now()
       FROM "Orders" o, "Products" p
       WHERE o.id = r.order_id AND p.id = r.product_id AND r.status = 'active' AND o.status IN ('completed', 'failed', 'cancelled')
       RETURNING r.id, r.order_id, p.sku, r.quantity, o.status`,
      { transaction, type: QueryTypes.SELECT },
    );
    for (const r of released) {
      const line = `released orphaned reservation ${r.id}: ${r.quantity} x ${r.sku} of ${r.status} order ${r.order_id}`;
      repairs.push(line);
      options.logger?.warn({ orderId: r.order_id, sku: r.sku, quantity: r.quantity }, line);
      await appendOrderLogs(sequelize, r.order_id, [{
        event: 'STOCK_RELEASED',
        message: `Repair: released ${r.quantity} x ${r.sku} left reserved after the order was ${r.status}`,
        details: { repair: true, reservationId: Number(r.id) },
      }], transaction);
    }
    const fixed = await sequelize.query<{ sku: string; before: number; after: number }>(
      `WITH truth AS (
         SELECT p.id, p.stock_reserved AS before,
                COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::int AS after
         FROM "Products" p
       )
       UPDATE "Products" p SET stock_reserved = truth.after,
              stock_on_hand = GREATEST(p.stock_on_hand, truth.after), updated_at = now()
       FROM truth WHERE truth.id = p.id AND truth.before <> truth.after
       RETURNING p.sku, truth.before, truth.after`,
      { transaction, type: QueryTypes.SELECT },
    );
    for (const f of fixed) {
      const line = `set ${f.sku} stock_reserved ${f.before} -> ${f.after} (sum of its active reservations)`;
      repairs.push(line);
      options.logger?.warn({ sku: f.sku, before: f.before, after: f.after }, line);
    }
  });
  return { problems, repairs };
}

async function findProblems(sequelize: Sequelize, stuckAfterMinutes: number): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  const mismatches = await sequelize.query<{ sku: string; stock_on_hand: number; stock_reserved: number; active: number }>(
    `SELECT p.sku, p.stock_on_hand, p.stock_reserved,
            COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::int AS active
     FROM "Products" p ORDER BY p.id`,
    { type: QueryTypes.SELECT },
  );
  for (const m of mismatches) {
    if (m.stock_reserved !== m.active) {
      problems.push({
        kind: 'RESERVED_MISMATCH',
        message: `${m.sku}: stock_reserved is ${m.stock_reserved} but its active reservations hold ${m.active}`,
        details: { sku: m.sku, stockReserved: m.stock_reserved, activeReservations: m.active },
        fixable: true,
      });
    }
    if (m.stock_on_hand < m.stock_reserved) {
      problems.push({
        kind: 'ON_HAND_BELOW_RESERVED',
        message: `${m.sku}: stock_on_hand ${m.stock_on_hand} is below stock_reserved ${m.stock_reserved}`,
        details: { sku: m.sku, stockOnHand: m.stock_on_hand, stockReserved: m.stock_reserved },
        fixable: true,
      });
    }
  }
  const orphans = await sequelize.query<{ id: string; order_id: string; sku: string; quantity: number; status: string }>(
    `SELECT r.id, r.order_id, p.sku, r.quantity, o.status
     FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id JOIN "Products" p ON p.id = r.product_id
     WHERE r.status = 'active' AND o.status IN ('completed', 'failed', 'cancelled')`,
    { type: QueryTypes.SELECT },
  );
  for (const o of orphans) {
    problems.push({
      kind: 'ORPHANED_RESERVATION',
      message: `reservation ${o.id} holds ${o.quantity} x ${o.sku} for ${o.status} order ${o.order_id}`,
      details: { reservationId: Number(o.id), orderId: o.order_id, sku: o.sku, quantity: o.quantity, orderStatus: o.status },
      fixable: true,
    });
  }
  const stuck = await sequelize.query<{ id: string; status: string; minutes: number }>(
    `SELECT id, status, floor(extract(epoch FROM now() - updated_at) / 60)::int AS minutes
     FROM "Orders" WHERE status IN ('pending', 'reserved') AND updated_at < now() - make_interval(mins => $1)
     ORDER BY updated_at LIMIT 1000`,
    { bind: [stuckAfterMinutes], type: QueryTypes.SELECT },
  );
  for (const s of stuck) {
    problems.push({
      kind: 'STUCK_ORDER',
      message: `order ${s.id} has been ${s.status} for ${s.minutes} minutes`,
      details: { orderId: s.id, status: s.status, minutes: s.minutes },
      // Its jobs (retries, the expiry sweeper) own it; the tool reports and does not guess.
      fixable: false,
    });
  }
  return problems;
}
