import type { TestApp } from './test-app';

const TERMINAL = ['completed', 'failed', 'cancelled', 'refunded'];
const TERMINAL_SQL = TERMINAL.map((s) => `'${s}'`).join(', ');
const TERMINAL_EVENTS: Record<string, string> = { completed: 'ORDER_COMPLETED', failed: 'ORDER_FAILED', cancelled: 'ORDER_CANCELLED', refunded: 'ORDER_REFUNDED' };
const TERMINAL_EVENTS_SQL = Object.values(TERMINAL_EVENTS).map((e) => `'${e}'`).join(', ');

/**
 * The invariants from DEVELOPERS.md, checked after every concurrent test. Returns the list of
 * violations (empty when all hold) so a failing test shows exactly what broke.
 *
 * `requireTerminal: false` (a check while work may still be under way) accepts open orders and
 * refunds still `requested`, and adds up the money only over the orders that are settled
 * (terminal, no refund on its way). On a database without the "Refunds" table (before its
 * migration) the refund checks are skipped and a failed order may hold no successful charge.
 */
export async function invariantViolations(t: Pick<TestApp, 'query'>, options: { requireTerminal?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const requireTerminal = options.requireTerminal !== false;
  const [{ refunds: refundsTable }] = await t.query<{ refunds: string | null }>(`SELECT to_regclass('"Refunds"')::text AS refunds`);
  const withRefunds = refundsTable !== null;

  const stock = await t.query<{ sku: string; on_hand: number; reserved: number; active: string }>(
    `SELECT p.sku, p.stock_on_hand AS on_hand, p.stock_reserved AS reserved,
            COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::text AS active
     FROM "Products" p`,
  );
  for (const p of stock) {
    if (p.reserved < 0 || p.reserved > p.on_hand) problems.push(`${p.sku}: reserved ${p.reserved} outside 0..${p.on_hand}`);
    if (Number(p.active) !== p.reserved) problems.push(`${p.sku}: stock_reserved ${p.reserved} but active reservations hold ${p.active}`);
  }

  if (requireTerminal) {
    const open = await t.query<{ id: string; status: string }>(`SELECT id, status FROM "Orders" WHERE status NOT IN (${TERMINAL_SQL})`);
    for (const o of open) problems.push(`order ${o.id} is still ${o.status}`);
  }

  // Each order's successful charges and (when the table exists) its refund: one per order at most (UNIQUE order_id).
  const money = await t.query<OrderMoney>(
    `SELECT o.id, o.status, o.total_cents::text AS total,
            (SELECT count(*) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded')::int AS charges,
            (SELECT min(p.amount_cents) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded')::text AS charge_amount,
            (SELECT min(p.provider_charge_id) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded') AS charge_id,
            ${withRefunds
              ? `r.status AS refund_status, r.amount_cents::text AS refund_amount, r.provider_charge_id AS refund_charge_id
               FROM "Orders" o LEFT JOIN "Refunds" r ON r.order_id = o.id`
              : `NULL AS refund_status, NULL AS refund_amount, NULL AS refund_charge_id
               FROM "Orders" o`}`,
  );
  for (const m of money) problems.push(...orderMoneyViolations(m, withRefunds, requireTerminal));
  if (withRefunds) {
    // The money adds up: what the provider kept is exactly what the completed orders cost.
    const counted = money.filter((m) => requireTerminal || (TERMINAL.includes(m.status) && m.refund_status !== 'requested'));
    const charged = counted.reduce((sum, m) => sum + (m.charges > 0 ? BigInt(m.charge_amount ?? 0) * BigInt(m.charges) : 0n), 0n);
    const refunded = counted.reduce((sum, m) => sum + (m.refund_status === 'succeeded' ? BigInt(m.refund_amount ?? 0) : 0n), 0n);
    const completed = counted.reduce((sum, m) => sum + (m.status === 'completed' ? BigInt(m.total) : 0n), 0n);
    if (charged - refunded !== completed) {
      problems.push(`money: successful charges ${charged} - successful refunds ${refunded} = ${charged - refunded}, but completed orders total ${completed}${requireTerminal ? '' : ` (over ${counted.length} settled orders)`}`);
    }
  }

  const leftovers = await t.query<{ order_id: string }>(
    `SELECT DISTINCT r.order_id FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id
     WHERE r.status = 'active' AND o.status IN (${TERMINAL_SQL})`,
  );
  for (const l of leftovers) problems.push(`terminal order ${l.order_id} still holds an active reservation`);

  const stories = await t.query<{ id: string; status: string; first: string | null; last: string | null; final: string | null }>(
    `SELECT o.id, o.status,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id ORDER BY id ASC LIMIT 1) AS first,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id AND l.event IN (${TERMINAL_EVENTS_SQL}) ORDER BY id DESC LIMIT 1) AS last,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id ORDER BY id DESC LIMIT 1) AS final
     FROM "Orders" o`,
  );
  for (const s of stories) {
    if (s.first !== 'ORDER_CREATED') problems.push(`order ${s.id}: log starts with ${s.first}`);
    if (TERMINAL_EVENTS[s.status] && s.last !== TERMINAL_EVENTS[s.status]) problems.push(`order ${s.id} is ${s.status} but its log ends with ${s.last}`);
    // Nothing happens to a refunded order after its refund: ORDER_REFUNDED is the very last row.
    if (s.status === 'refunded' && s.final !== 'ORDER_REFUNDED') problems.push(`refunded order ${s.id}: its story's last event is ${s.final}, not ORDER_REFUNDED`);
  }

  if (withRefunds) {
    // A refund that was paid out is in its order's story, from its request.
    const untold = await t.query<{ order_id: string; requested: boolean; succeeded: boolean }>(
      `SELECT r.order_id,
              EXISTS (SELECT 1 FROM "Order_Logs" l WHERE l.order_id = r.order_id AND l.event = 'REFUND_REQUESTED') AS requested,
              EXISTS (SELECT 1 FROM "Order_Logs" l WHERE l.order_id = r.order_id AND l.event = 'REFUND_SUCCEEDED') AS succeeded
       FROM "Refunds" r WHERE r.status = 'succeeded'`,
    );
    for (const u of untold.filter((x) => !x.requested || !x.succeeded)) {
      problems.push(`order ${u.order_id}: its refund succeeded but its log has no ${u.requested ? 'REFUND_SUCCEEDED' : 'REFUND_REQUESTED'}`);
    }
  }
  return problems;
}

interface OrderMoney {
  id: string;
  status: string;
  total: string;
  charges: number;
  charge_amount: string | null;
  charge_id: string | null;
  refund_status: string | null;
  refund_amount: string | null;
  refund_charge_id: string | null;
}

/** One order's charges and refund against its status (DEVELOPERS.md, invariant 4). */
function orderMoneyViolations(m: OrderMoney, withRefunds: boolean, requireTerminal: boolean): string[] {
  const problems: string[] = [];
  const refundSucceeded = m.refund_status === 'succeeded' ? 1 : 0;
  switch (m.status) {
    case 'completed':
      if (m.charges !== 1) problems.push(`completed order ${m.id} has ${m.charges} successful charges`);
      if (refundSucceeded) problems.push(`completed order ${m.id} has a successful refund (it should be refunded)`);
      // An admin's refund on its way: work not yet done when everything should be at rest.
      if (requireTerminal && m.refund_status === 'requested') problems.push(`completed order ${m.id}: its refund is still requested`);
      break;
    case 'refunded':
      if (m.charges !== 1) problems.push(`refunded order ${m.id} has ${m.charges} successful charges`);
      if (!withRefunds) break;
      if (!refundSucceeded) problems.push(`refunded order ${m.id} has no successful refund (refund ${m.refund_status ?? 'missing'})`);
      else if (m.refund_amount !== m.charge_amount) problems.push(`refunded order ${m.id}: refund of ${m.refund_amount} for a charge of ${m.charge_amount}`);
      else if (m.refund_charge_id !== m.charge_id) problems.push(`refunded order ${m.id}: refund of charge ${m.refund_charge_id}, but the order's charge is ${m.charge_id}`);
      break;
    case 'failed':
    case 'cancelled':
      if (!withRefunds) {
        // Before refunds existed a failed order held no successful charge, and a cancelled one was not checked.
        if (m.status === 'failed' && m.charges !== 0) problems.push(`failed order ${m.id} has ${m.charges} successful charges`);
        break;
      }
      if (m.charges > 1) problems.push(`${m.status} order ${m.id} has ${m.charges} successful charges`);
      else if (refundSucceeded !== m.charges && !(m.refund_status === 'requested' && !requireTerminal)) {
        problems.push(m.charges
          ? `${m.status} order ${m.id} was charged (${m.charge_id}) and not refunded (refund ${m.refund_status ?? 'missing'})`
          : `${m.status} order ${m.id} has a successful refund but no successful charge`);
      } else if (refundSucceeded && (m.refund_amount !== m.charge_amount || m.refund_charge_id !== m.charge_id)) {
        problems.push(`${m.status} order ${m.id}: refund of ${m.refund_amount} on ${m.refund_charge_id} for its charge of ${m.charge_amount} on ${m.charge_id}`);
      }
      break;
    default:
      // An open order: a refund on it is a mistake whatever its state.
      if (withRefunds && m.refund_status) problems.push(`${m.status} order ${m.id} has a refund (${m.refund_status})`);
  }
  return problems;
}
