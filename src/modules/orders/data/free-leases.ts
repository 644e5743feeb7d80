import { statement } from '../../../db/statement';
import { insertLogRowsFrom } from './log-rows';

/**
 * Charge attempts that failed and will be tried again, for any number of orders in one statement:
 * frees each order's payment lease (not a status change, so updated_at stays) and appends its log
 * rows. $1 is a JSON array of `{order_id, logs}` (logs as order-log.ts builds them).
 */
export const freeLeasesWithLogs = statement<{ orderId: string }, [failures: string]>(
  'orders.free_leases_with_logs',
  `WITH req AS (
     SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (order_id uuid, logs jsonb)) WITH ORDINALITY AS x(order_id, logs, ord)
   ), freed AS (
     UPDATE "Orders" o SET payment_lease_until = NULL
     WHERE o.id = ANY(ARRAY(SELECT order_id FROM req))
     RETURNING o.id
   ), logged AS (
     ${insertLogRowsFrom('req.order_id', 'req, jsonb_array_elements(req.logs) WITH ORDINALITY AS e(v, ord)', 'req.ord, e.ord')}
   )
   SELECT id AS "orderId" FROM freed`,
);
