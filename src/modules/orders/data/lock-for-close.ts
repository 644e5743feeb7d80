import { statement } from '../../../db/statement';
import type { OrderStatus } from '../lifecycle';
import { paymentLeaseHeldSql } from './payment-lease';

/**
 * The close path's first step: locks the order row and says whether a charge attempt holds its
 * payment lease, on the database's clock, the same clock the charge claim and the sweeper use.
 */
export const lockForClose = statement<
  { customerId: string; status: OrderStatus; leaseHeld: boolean },
  [orderId: string]
>(
  'orders.lock_for_close',
  `SELECT customer_id AS "customerId", status, ${paymentLeaseHeldSql()} AS "leaseHeld"
   FROM "Orders" WHERE id = $1 FOR NO KEY UPDATE`,
);
