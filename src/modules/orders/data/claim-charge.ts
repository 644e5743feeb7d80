import { statement } from '../../../db/statement';
import type { OrderEvent, OrderStatus } from '../lifecycle';
import { paymentLeaseHeldSql } from './payment-lease';

const reserved: OrderStatus = 'reserved';
const attemptEvent: OrderEvent = 'PAYMENT_ATTEMPT';

/**
 * Starts a charge attempt in one statement, outside any transaction: takes the payment lease
 * (only on a reserved order whose lease is free), counts the attempt and logs PAYMENT_ATTEMPT.
 * No row back: the order is not reserved, or another attempt holds the lease.
 */
export const claimCharge = statement<
  { attempt: number; total_cents: string; currency: string },
  [orderId: string, leaseSeconds: number, maxAttempts: number, jobId: string | null]
>(
  'orders.claim_charge',
  `WITH claimed AS (
     UPDATE "Orders"
     SET payment_attempts = payment_attempts + 1, payment_lease_until = now() + make_interval(secs => $2), updated_at = now()
     WHERE id = $1 AND status = '${reserved}' AND NOT ${paymentLeaseHeldSql()}
     RETURNING id, payment_attempts AS attempt, total_cents, currency
   ), logged AS (
     INSERT INTO "Order_Logs" (order_id, event, attempt, message, details, job_id)
     SELECT id, '${attemptEvent}', attempt, 'Charging ' || total_cents || ' ' || currency || ', attempt ' || attempt || ' of ' || $3::int,
            jsonb_build_object('amountCents', total_cents, 'currency', currency), $4::uuid
     FROM claimed
   )
   SELECT attempt, total_cents, currency FROM claimed`,
);
