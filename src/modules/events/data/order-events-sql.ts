import { API_VERSION } from '../catalog';

/**
 * Not a statement: the INSERT into "Events" that the orders module's statements end with, so an
 * order's event is written by the very statement (and transaction) that changes the order.
 * `source` yields the changed orders' rows as `o` (every "Orders" column the payload shows, as
 * RETURNING gives them after the change); `type` is an SQL expression of the event type;
 * `itemsSql` yields the order's items as a jsonb array. The payload's `data` is the order as
 * GET /orders/:id shows its own fields.
 */
export const insertOrderEventsFrom = (source: string, type: string, itemsSql: string) =>
  `INSERT INTO "Events" (type, order_id, customer_id, sequence, api_version, data)
   SELECT ${type}, o.id, o.customer_id, o.event_sequence, '${API_VERSION}',
          jsonb_build_object('id', o.id, 'status', o.status, 'customerId', o.customer_id, 'currency', o.currency,
            'totalCents', o.total_cents, 'failureReason', o.failure_reason, 'paymentAttempts', o.payment_attempts,
            'items', ${itemsSql}, 'createdAt', ${isoSql('o.created_at')}, 'updatedAt', ${isoSql('o.updated_at')})
   FROM ${source}`;

/** The columns of "Orders" insertOrderEventsFrom reads, for a RETURNING clause (prefix: the table's alias and a dot). */
export const orderEventColumns = (prefix = '') =>
  ['id', 'customer_id', 'status', 'currency', 'total_cents', 'failure_reason', 'payment_attempts', 'event_sequence', 'created_at', 'updated_at']
    .map((c) => prefix + c)
    .join(', ');

/** An order's items as the payload shows them, read from "Order_Items" (orders that existed before the statement). */
export const storedItemsSql = (orderIdSql: string) =>
  `(SELECT COALESCE(jsonb_agg(jsonb_build_object('sku', i.sku, 'name', i.name, 'quantity', i.quantity, 'unitPriceCents', i.unit_price_cents) ORDER BY i.id), '[]'::jsonb)
    FROM "Order_Items" i WHERE i.order_id = ${orderIdSql})`;

/** A timestamptz as JavaScript's toISOString() writes it, as the API shows times. */
const isoSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
