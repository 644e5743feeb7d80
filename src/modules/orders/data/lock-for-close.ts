import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { Order } from '../models';
import { paymentLeaseHeldSql } from './payment-lease';

/**
 * The close path's first step: locks the order row and says whether a charge attempt holds its
 * payment lease, on the database's clock, the same clock the charge claim and the sweeper use.
 */
export const lockForClose = statement<Pick<InferAttributes<Order>, 'customerId' | 'status' | 'paymentAttempts'> & { leaseHeld: boolean }, [orderId: string]>(
  'orders.lock_for_close',
  `SELECT customer_id AS "customerId", status, payment_attempts AS "paymentAttempts", ${paymentLeaseHeldSql()} AS "leaseHeld"
   FROM "Orders" WHERE id = $1 FOR NO KEY UPDATE`,
);
