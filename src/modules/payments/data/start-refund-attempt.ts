import { statement } from '../../../db/statement';

/**
 * Counts one refund call before it is made, for a refund still waiting; returns what to refund
 * and which attempt this is, or nothing when the refund is settled (a job delivered twice).
 */
export const startRefundAttempt = statement<
  { attempt: number; chargeId: string; amountCents: string; currency: string; reason: string },
  [orderId: string]
>(
  'payments.start_refund_attempt',
  `UPDATE "Refunds" SET attempts = attempts + 1, updated_at = now()
   WHERE order_id = $1 AND status = 'requested'
   RETURNING attempts AS attempt, provider_charge_id AS "chargeId", amount_cents AS "amountCents", currency, reason`,
);
