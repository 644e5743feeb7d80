import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { Order } from '../models';
import { insertLogRowsSql } from './log-rows';

type O = InferAttributes<Order>;

/**
 * A conditional status change and its log rows, in one statement: nothing is logged unless the
 * status really changed. Every status change ends the payment lease. No row back means the order
 * was not in `from` (a job delivered twice, or another path won).
 */
export const transition = statement<
  { created_at: Date },
  [orderId: O['id'], from: O['status'], to: O['status'], failureReason: O['failureReason'], rows: string]
>(
  'orders.transition',
  `WITH changed AS (
     UPDATE "Orders" SET status = $3, failure_reason = COALESCE($4, failure_reason), payment_lease_until = NULL, updated_at = now()
     WHERE id = $1 AND status = $2
     RETURNING id, created_at
   ), logged AS (
     ${insertLogRowsSql('changed.id', 'changed, ', 5)}
   )
   SELECT created_at FROM changed`,
);
