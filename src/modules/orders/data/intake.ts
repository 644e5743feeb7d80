import { statement } from '../../../db/statement';
import { AVAILABLE_SQL } from '../../catalog';
import type { OrderEvent, OrderStatus } from '../lifecycle';

const pending: OrderStatus = 'pending';
const created: OrderEvent = 'ORDER_CREATED';

/** One requested line as the intake statement sees it; product fields are null when unknown. */
export interface IntakeLine {
  ord: number;
  asked: string;
  quantity: number;
  id: number | null;
  sku: string | null;
  name: string | null;
  price_cents: number | null;
  currency: string | null;
  available: number | null;
  /** Set (on every line) only when the order was written. */
  order_created_at: Date | null;
}

/**
 * Order intake in one statement: reads the prices, checks the order and, only when it passes,
 * writes the order, its items and its ORDER_CREATED log (the reserve job follows in the same
 * transaction). Inserts nothing unless every product exists, there is one currency (the
 * requested one, if any) and stock looks sufficient; the lines come back either way, so the
 * caller can say why.
 *
 * $7: the requested lines as [{ ord, sku, product_id, quantity }].
 */
export type IntakeParams = [
  orderId: string,
  customerId: string,
  currency: string | null,
  idempotencyKey: string | null,
  requestHash: string,
  requestId: string | null,
  lines: string,
];

export const intake = statement<IntakeLine, IntakeParams>(
  'orders.intake',
  `WITH req AS (
     SELECT r.ord, r.sku, r.product_id, r.quantity FROM jsonb_to_recordset($7::jsonb) AS r(ord int, sku text, product_id int, quantity int)
   ), lines AS (
     SELECT r.ord, COALESCE(r.sku, r.product_id::text) AS asked, r.quantity, p.id, p.sku, p.name, p.price_cents, p.currency,
            ${AVAILABLE_SQL} AS available
     FROM req r
     LEFT JOIN "Products" p ON p.id = COALESCE(r.product_id, (SELECT id FROM "Products" WHERE sku = r.sku))
   ), verdict AS (
     SELECT bool_and(id IS NOT NULL AND available >= quantity) AND count(DISTINCT currency) = 1 AND count(DISTINCT id) = count(*)
              AND ($3::text IS NULL OR bool_and(currency = $3::text)) AS ok,
            min(currency) AS currency, sum(quantity * price_cents) AS total,
            string_agg(quantity || ' x ' || sku, ', ' ORDER BY ord) AS summary,
            jsonb_agg(jsonb_build_object('sku', sku, 'quantity', quantity, 'unitPriceCents', price_cents) ORDER BY ord) AS items
     FROM lines
   ), o AS (
     INSERT INTO "Orders" (id, customer_id, status, total_cents, currency, idempotency_key, request_hash, request_id)
     SELECT $1, $2, '${pending}', total, currency, $4, $5, $6 FROM verdict WHERE ok
     RETURNING id, created_at
   ), i AS (
     INSERT INTO "Order_Items" (order_id, product_id, sku, name, quantity, unit_price_cents)
     SELECT o.id, l.id, l.sku, l.name, l.quantity, l.price_cents FROM o, lines l
   ), log AS (
     INSERT INTO "Order_Logs" (order_id, event, to_status, message, details, request_id)
     SELECT o.id, '${created}', '${pending}',
            'Order accepted for ' || $2 || ': ' || v.summary || ', total ' || v.total || ' ' || v.currency,
            jsonb_build_object('items', v.items, 'totalCents', v.total, 'currency', v.currency, 'idempotencyKey', $4::text), $6
     FROM o, verdict v
   )
   SELECT l.ord, l.asked, l.quantity, l.id, l.sku, l.name, l.price_cents, l.currency, l.available,
          (SELECT created_at FROM o) AS order_created_at
   FROM lines l ORDER BY l.ord`,
);
