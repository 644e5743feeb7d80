import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { Order } from '../models';
import { insertLogRowsFrom } from './log-rows';
import { insertOrderEventsFrom, orderEventColumns, storedItemsSql } from '../../events';

/**
 * Conditional status changes, each with its own log rows and its event (order.<new status>, the
 * order's next sequence number) in the outbox, for any number of orders in one
 * statement: an order not in its `from` status changes nothing and logs nothing. Every status
 * change ends the payment lease. $1 is a JSON array of `{order_id, from_status, to_status,
 * failure_reason, logs}` (logs as order-log.ts builds them); the orders that changed come back.
 */
export const transitionMany = statement<{ orderId: Order['id'] } & Pick<InferAttributes<Order>, 'createdAt'>, [changes: string]>(
  'orders.transition_many',
  `WITH req AS (
     SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (order_id uuid, from_status text, to_status text, failure_reason text, logs jsonb))
       WITH ORDINALITY AS x(order_id, from_status, to_status, failure_reason, logs, ord)
   ), changed AS (
     UPDATE "Orders" o
     SET status = req.to_status, failure_reason = COALESCE(req.failure_reason, o.failure_reason), payment_lease_until = NULL,
         event_sequence = o.event_sequence + 1, updated_at = now()
     FROM req
     -- The id list steers the planner to the primary key: it guesses 100 rows for a jsonb array
     -- (a batch is at most a few dozen), and read all of a young "Orders" table on every call.
     WHERE o.id = ANY(ARRAY(SELECT order_id FROM req)) AND o.id = req.order_id AND o.status = req.from_status
     RETURNING ${orderEventColumns('o.')}
   ), logged AS (
     ${insertLogRowsFrom('changed.id', 'changed JOIN req ON req.order_id = changed.id, jsonb_array_elements(req.logs) WITH ORDINALITY AS e(v, ord)', 'req.ord, e.ord')}
   ), event AS (
     ${insertOrderEventsFrom('changed o', "'order.' || o.status", storedItemsSql('o.id'))}
   )
   SELECT id AS "orderId", created_at AS "createdAt" FROM changed`,
);
