import { statement } from '../../../db/statement';
import { AVAILABLE_SQL } from '../../catalog';

/**
 * Adds every line to its product's stock_reserved and holds it in an active reservation, in one
 * statement; run after lockProducts checked that all lines fit. `lines` is a JSON array of
 * `{product_id, quantity}`. The guard on available stock makes a line that no longer fits
 * reserve nothing, so `reservedCount` below the number of lines means "roll back".
 */
export const reserveLines = statement<{ reservedCount: number }, [lines: string, orderId: string, expiresAt: string]>(
  'inventory.reserve_lines',
  `WITH lines AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(product_id int, quantity int)
   ), reserved AS (
     UPDATE "Products" p
     SET stock_reserved = p.stock_reserved + lines.quantity, updated_at = now()
     FROM lines
     WHERE p.id = lines.product_id AND ${AVAILABLE_SQL} >= lines.quantity
     RETURNING p.id
   ), held AS (
     INSERT INTO "Stock_Reservations" (order_id, product_id, quantity, status, expires_at)
     SELECT $2::uuid, lines.product_id, lines.quantity, 'active', $3::timestamptz
     FROM lines JOIN reserved ON reserved.id = lines.product_id
     RETURNING id
   )
   SELECT (SELECT count(*) FROM reserved)::int AS "reservedCount"`,
);
