import { statement } from '../../../db/statement';
import { AVAILABLE_SQL } from '../../catalog';

/**
 * The set-based reserve: adds each product's total to stock_reserved and holds every line in an
 * active reservation, for many orders in one statement; run after lockProducts, once the caller
 * has decided which orders fit. `lines` is a JSON array of `{order_id, product_id, quantity}`.
 * The guard on available stock makes a product that no longer fits reserve nothing, so
 * `reservedProducts` below the number of distinct products means "roll back".
 */
export const reserveMany = statement<{ reservedProducts: number }, [lines: string, expiresAt: string]>(
  'inventory.reserve_many',
  `WITH lines AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(order_id uuid, product_id int, quantity int)
   ), totals AS (
     SELECT product_id, sum(quantity)::int AS quantity FROM lines GROUP BY product_id
   ), reserved AS (
     UPDATE "Products" p
     SET stock_reserved = p.stock_reserved + totals.quantity, updated_at = now()
     FROM totals
     WHERE p.id = totals.product_id AND ${AVAILABLE_SQL} >= totals.quantity
     RETURNING p.id
   ), held AS (
     INSERT INTO "Stock_Reservations" (order_id, product_id, quantity, status, expires_at)
     SELECT lines.order_id, lines.product_id, lines.quantity, 'active', $2::timestamptz
     FROM lines JOIN reserved ON reserved.id = lines.product_id
     RETURNING id
   )
   SELECT (SELECT count(*) FROM reserved)::int AS "reservedProducts"`,
);
