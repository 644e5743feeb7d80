import { statement } from '../../../db/statement';

/**
 * Asks for an order's refund: a new row, or a failed one asked again (its attempts start over).
 * Returns the row only when it was (re)requested; a refund already requested or paid out stays as
 * it is and nothing comes back, which is how a repeated request is told apart.
 */
export const requestRefund = statement<
  { id: string; reason: string; restock: boolean },
  [orderId: string, chargeId: string, amountCents: number, currency: string, reason: string, restock: boolean]
>(
  'payments.request_refund',
  `INSERT INTO "Refunds" (order_id, provider_charge_id, amount_cents, currency, reason, restock)
   VALUES ($1, $2, $3, $4, $5, $6)
   ON CONFLICT (order_id) DO UPDATE
     SET status = 'requested', attempts = 0, error_code = NULL, error_detail = NULL, restock = EXCLUDED.restock, updated_at = now()
     WHERE "Refunds".status = 'failed'
   RETURNING id, reason, restock`,
);
