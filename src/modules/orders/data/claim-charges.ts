import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { OrderEvent, OrderStatus } from '../lifecycle';
import type { Order } from '../models';
import { paymentLeaseHeldSql } from './payment-lease';

const reserved: OrderStatus = 'reserved';
const attemptEvent: OrderEvent = 'PAYMENT_ATTEMPT';

/** An order whose charge attempt now holds the lease: which attempt, and what to charge. */
export type ClaimRow = { orderId: Order['id']; attempt: number } & Pick<InferAttributes<Order>, 'totalCents' | 'currency'>;

/**
 * Starts charge attempts in one statement, outside any transaction: for each order that is
 * reserved and whose lease is free, takes the payment lease, counts the attempt and logs
 * PAYMENT_ATTEMPT (with the job that makes it). $1 is a JSON array of `{order_id, job_id}`, one
 * per order; an order that does not come back is not reserved, or another attempt holds its lease.
 */
export const claimCharges = statement<ClaimRow, [claims: string, leaseSeconds: number, maxAttempts: number]>(
  'orders.claim_charges',
  `WITH req AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(order_id uuid, job_id uuid)
   ), claimed AS (
     UPDATE "Orders" o
     SET payment_attempts = o.payment_attempts + 1, payment_lease_until = now() + make_interval(secs => $2), updated_at = now()
     FROM req
     WHERE o.id = req.order_id AND o.status = '${reserved}' AND NOT ${paymentLeaseHeldSql('o.')}
     RETURNING o.id, o.payment_attempts AS attempt, o.total_cents, o.currency, req.job_id
   ), logged AS (
     INSERT INTO "Order_Logs" (order_id, event, attempt, message, details, job_id)
     SELECT id, '${attemptEvent}', attempt, 'Charging ' || total_cents || ' ' || currency || ', attempt ' || attempt || ' of ' || $3::int,
            jsonb_build_object('amountCents', total_cents, 'currency', currency), job_id
     FROM claimed ORDER BY id
   )
   SELECT id AS "orderId", attempt, total_cents AS "totalCents", currency FROM claimed`,
);
