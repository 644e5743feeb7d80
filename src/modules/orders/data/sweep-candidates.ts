import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { StockReservation } from '../../inventory';
import type { OrderStatus } from '../lifecycle';
import type { Order } from '../models';
import { paymentLeaseHeldSql } from './payment-lease';

const reserved: OrderStatus = 'reserved';

/**
 * Reserved orders with an expired active reservation and no charge attempt in flight: what the
 * expiry sweeper closes (each re-checked under its row lock by the close path). Set-based over
 * the partial index on active reservations' expiry. With each, the order's trace for the sweeper's span.
 */
export const sweepCandidates = statement<Pick<InferAttributes<StockReservation>, 'orderId'> & Pick<InferAttributes<Order>, 'traceparent'>, [limit: number]>(
  'orders.sweep_candidates',
  `SELECT DISTINCT r.order_id AS "orderId", o.traceparent
   FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id
   WHERE r.status = 'active' AND r.expires_at < now() AND o.status = '${reserved}'
     AND NOT ${paymentLeaseHeldSql('o.')}
   LIMIT $1`,
);
