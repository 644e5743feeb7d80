import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { StockReservation } from '../../inventory';
import type { OrderStatus } from '../lifecycle';
import { paymentLeaseHeldSql } from './payment-lease';

const reserved: OrderStatus = 'reserved';

/**
 * Reserved orders with an expired active reservation and no charge attempt in flight: what the
 * expiry sweeper closes (each re-checked under its row lock by the close path). Set-based over
 * the partial index on active reservations' expiry.
 */
export const sweepCandidates = statement<Pick<InferAttributes<StockReservation>, 'orderId'>, [limit: number]>(
  'orders.sweep_candidates',
  `SELECT DISTINCT r.order_id AS "orderId"
   FROM "Stock_Reservations" r JOIN "Orders" o ON o.id = r.order_id
   WHERE r.status = 'active' AND r.expires_at < now() AND o.status = '${reserved}'
     AND NOT ${paymentLeaseHeldSql('o.')}
   LIMIT $1`,
);
