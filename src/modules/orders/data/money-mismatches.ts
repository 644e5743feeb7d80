import { statement } from '../../../db/statement';

/**
 * Orders whose money does not match their status (the refund invariants of DEVELOPERS.md), read
 * from the payments module's tables: a completed order has exactly one successful charge and no
 * refund paid; a refunded one its charge and a refund of the full amount; a failed or cancelled
 * one a refund, paid or on its way, for any charge it holds. Refunds given up are listed too.
 */
export const moneyMismatches = statement<{ orderId: string; status: string; charges: number; refunded: number; refundStatus: string | null; chargedCents: string | null; refundCents: string | null }>(
  'orders.money_mismatches',
  `SELECT o.id AS "orderId", o.status, c.charges, c.charged_cents AS "chargedCents",
          r.status AS "refundStatus", (r.status = 'succeeded')::int AS refunded, r.amount_cents AS "refundCents"
   FROM "Orders" o
   CROSS JOIN LATERAL (
     SELECT count(*)::int AS charges, sum(amount_cents) AS charged_cents FROM "Payments" p WHERE p.order_id = o.id AND p.outcome = 'succeeded'
   ) c
   LEFT JOIN "Refunds" r ON r.order_id = o.id
   WHERE (o.status = 'completed' AND (c.charges <> 1 OR r.status = 'succeeded'))
      OR (o.status = 'refunded' AND (c.charges <> 1 OR r.status IS DISTINCT FROM 'succeeded' OR r.amount_cents <> c.charged_cents))
      OR (o.status IN ('failed', 'cancelled') AND c.charges > 0 AND (r.status IS NULL OR r.status = 'failed'))
      OR (o.status IN ('pending', 'reserved') AND c.charges > 0)
   ORDER BY o.id
   LIMIT 1000`,
);
