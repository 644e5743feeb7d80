import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import { AVAILABLE_SQL, type Product } from '../../catalog';
import { insertOrderEventsFrom, orderEventColumns } from '../../events';
import type { OrderEvent, OrderStatus } from '../lifecycle';
import type { Order, OrderItem } from '../models';

const pending: OrderStatus = 'pending';
const created: OrderEvent = 'ORDER_CREATED';

/** One order as the intake statement takes it. */
export interface IntakeOrder {
  order_id: string;
  customer_id: string;
  currency: string | null;
  idempotency_key: string | null;
  request_hash: string;
  request_id: string | null;
  /** The creating request's trace (null while tracing is off). */
  traceparent: string | null;
  lines: Array<{ ord: number; sku: string | null; product_id: number | null; quantity: number }>;
}

/** The product's columns of an intake line: null when the product is unknown. */
type LineProduct = { [K in 'id' | 'sku' | 'name' | 'priceCents' | 'currency']: InferAttributes<Product>[K] | null };

/** One requested line as the intake statement sees it; product fields are null when unknown. */
export interface IntakeLine extends LineProduct, Pick<InferAttributes<OrderItem>, 'quantity'> {
  orderId: Order['id'];
  ord: number;
  asked: string;
  available: number | null;
  /** Set (on every line of the order) only when the order was written. */
  orderCreatedAt: Order['createdAt'] | null;
}

/**
 * Intake of a group of orders in one statement: reads the prices, checks each order and writes
 * those that pass, each with its items and its ORDER_CREATED log (their reserve jobs follow in
 * the same transaction) and its order.created event. An order is written only when every product exists, there is one
 * currency (the requested one, if any) and stock looks sufficient; an order that fails leaves
 * the others alone. Every order's lines come back either way, so the caller can say why.
 *
 * $1: the orders as a JSON array of IntakeOrder.
 */
export const intake = statement<IntakeLine, [orders: string]>(
  'orders.intake',
  `WITH req AS (
     SELECT o.order_id, o.customer_id, o.currency AS wanted, o.idempotency_key, o.request_hash, o.request_id, o.traceparent,
            r.ord, r.sku, r.product_id, r.quantity
     FROM jsonb_to_recordset($1::jsonb)
            AS o(order_id uuid, customer_id text, currency text, idempotency_key text, request_hash text, request_id text, traceparent text, lines jsonb),
          jsonb_to_recordset(o.lines) AS r(ord int, sku text, product_id int, quantity int)
   ), lines AS (
     SELECT r.*, COALESCE(r.sku, r.product_id::text) AS asked, p.id, p.sku AS product_sku, p.name, p.price_cents, p.currency,
            ${AVAILABLE_SQL} AS available
     FROM req r
     LEFT JOIN "Products" p ON p.id = COALESCE(r.product_id, (SELECT id FROM "Products" WHERE sku = r.sku))
   ), verdict AS (
     SELECT order_id, customer_id, idempotency_key, request_hash, request_id, traceparent,
            bool_and(id IS NOT NULL AND available >= quantity) AND count(DISTINCT currency) = 1 AND count(DISTINCT id) = count(*)
              AND (wanted IS NULL OR bool_and(currency = wanted)) AS ok,
            min(currency) AS currency, sum(quantity * price_cents) AS total,
            string_agg(quantity || ' x ' || product_sku, ', ' ORDER BY ord) AS summary,
            jsonb_agg(jsonb_build_object('sku', product_sku, 'quantity', quantity, 'unitPriceCents', price_cents) ORDER BY ord) AS items,
            jsonb_agg(jsonb_build_object('sku', product_sku, 'name', name, 'quantity', quantity, 'unitPriceCents', price_cents) ORDER BY ord) AS shown_items
     FROM lines
     GROUP BY order_id, customer_id, wanted, idempotency_key, request_hash, request_id, traceparent
   ), o AS (
     INSERT INTO "Orders" (id, customer_id, status, total_cents, currency, idempotency_key, request_hash, request_id, traceparent, event_sequence)
     SELECT order_id, customer_id, '${pending}', total, currency, idempotency_key, request_hash, request_id, traceparent, 1 FROM verdict WHERE ok
     RETURNING ${orderEventColumns()}
   ), i AS (
     INSERT INTO "Order_Items" (order_id, product_id, sku, name, quantity, unit_price_cents)
     SELECT o.id, l.id, l.product_sku, l.name, l.quantity, l.price_cents FROM o JOIN lines l ON l.order_id = o.id ORDER BY o.id, l.ord
   ), log AS (
     INSERT INTO "Order_Logs" (order_id, event, to_status, message, details, request_id)
     SELECT o.id, '${created}', '${pending}',
            'Order accepted for ' || v.customer_id || ': ' || v.summary || ', total ' || v.total || ' ' || v.currency,
            jsonb_build_object('items', v.items, 'totalCents', v.total, 'currency', v.currency, 'idempotencyKey', v.idempotency_key), v.request_id
     FROM o JOIN verdict v ON v.order_id = o.id
   ), event AS (
     ${insertOrderEventsFrom('o JOIN verdict v ON v.order_id = o.id', "'order.created'", 'v.shown_items')}
   )
   SELECT l.order_id AS "orderId", l.ord, l.asked, l.quantity, l.id, l.product_sku AS sku, l.name, l.price_cents AS "priceCents", l.currency,
          l.available, o.created_at AS "orderCreatedAt"
   FROM lines l LEFT JOIN o ON o.id = l.order_id
   ORDER BY l.order_id, l.ord`,
);
