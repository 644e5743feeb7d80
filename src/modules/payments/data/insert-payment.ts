import type { InferAttributes } from 'sequelize';
import { statement } from '../../../db/statement';
import type { Payment } from '../models';

type P = InferAttributes<Payment>;

/**
 * One charge attempt, on the charge step's hot path: a plain INSERT with no RETURNING (a
 * model create would read the row back). The provider's message is cut to the column's width.
 */
export const insertPayment = statement<
  Record<string, never>,
  [
    orderId: P['orderId'],
    attempt: P['attempt'],
    outcome: P['outcome'],
    providerChargeId: P['providerChargeId'],
    errorCode: P['errorCode'],
    errorMessage: P['errorMessage'],
    amountCents: number,
    currency: P['currency'],
    durationMs: P['durationMs'],
  ]
>(
  'payments.insert_payment',
  `INSERT INTO "Payments" (order_id, attempt, outcome, provider_charge_id, error_code, error_message, amount_cents, currency, duration_ms)
   VALUES ($1, $2, $3, $4, $5, left($6, 500), $7, $8, $9)`,
);
