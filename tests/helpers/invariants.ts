import type { TestApp } from './test-app';

/**
 * The invariants from DEVELOPERS.md, checked after every concurrent test. Returns the list of
 * violations (empty when all hold) so a failing test shows exactly what broke.
 */
export async function invariantViolations(t: Pick<TestApp, 'query'>, options: { requireTerminal?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];

  const stock = await t.query<{ sku: string; on_hand: number; reserved: number; active: string }>(
    `SELECT p.sku, p.stock_on_hand AS on_hand, p.stock_reserved AS reserved,
            COALESCE((SELECT sum(quantity) FROM "Stock_Reservations" r WHERE r.product_id = p.id AND r.status = 'active'), 0)::text AS active
     FROM "Products" p`,
  );
  for (const p of stock) {
    if (p.reserved < 0 || p.reserved > p.on_hand) problems.push(`${p.sku}: reserved ${p.reserved} outside 0..${p.on_hand}`);
    if (Number(p.active) !== p.reserved) problems.push(`${p.sku}: stock_reserved ${p.reserved} but active reservations hold ${p.active}`);
  }

  if (options.requireTerminal !== false) {
    const open = await t.query<{ id: string; status: string }>(`SELECT id, status FROM "Orders" WHERE status NOT IN ('completed', 'failed', 'cancelled')`);
    for (const o of open) problems.push(`order ${o.id} is still ${o.status}`);
  }

  const charges = await t.query<{ id: string; status: string; succeeded: string }>(
    `SELECT o.id, o.status, (SELECT count(*) FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded')::text AS succeeded
     FROM "Orders" o WHERE o.status IN ('completed', 'failed')`,
  );
  for (const c of charges) {
    if (c.status === 'completed' && Number(c.succeeded) !== 1) problems.push(`completed order ${c.id} has ${c.succeeded} successful charges`);
    if (c.status === 'failed' && Number(c.succeeded) !== 0) problems.push(`failed order ${c.id} has ${c.succeeded} successful charges`);
  }

  const leftovers = await t.query<{ order_id: string }>(
    `SELECT DISTINCT r.order_id FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id
     WHERE r.status = 'active' AND o.status IN ('completed', 'failed', 'cancelled')`,
  );
  for (const l of leftovers) problems.push(`terminal order ${l.order_id} still holds an active reservation`);

  const stories = await t.query<{ id: string; status: string; first: string | null; last: string | null }>(
    `SELECT o.id, o.status,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id ORDER BY id ASC LIMIT 1) AS first,
            (SELECT event FROM "Order_Logs" l WHERE l.order_id = o.id AND l.event IN ('ORDER_COMPLETED', 'ORDER_FAILED', 'ORDER_CANCELLED') ORDER BY id DESC LIMIT 1) AS last
     FROM "Orders" o`,
  );
  const expectedEnd: Record<string, string> = { completed: 'ORDER_COMPLETED', failed: 'ORDER_FAILED', cancelled: 'ORDER_CANCELLED' };
  for (const s of stories) {
    if (s.first !== 'ORDER_CREATED') problems.push(`order ${s.id}: log starts with ${s.first}`);
    if (expectedEnd[s.status] && s.last !== expectedEnd[s.status]) problems.push(`order ${s.id} is ${s.status} but its log ends with ${s.last}`);
  }
  return problems;
}
