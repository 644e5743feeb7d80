import { statement } from '../../../db/statement';

/**
 * Charge attempts, one row each, on the charge step's hot path: a plain INSERT with no RETURNING
 * (a model create would read every row back). $1 is a JSON array of rows in the table's column
 * names; the plain message is cut to the column's width, error_detail is jsonb (admin-only).
 */
export const insertPayments = statement<Record<string, never>, [rows: string]>(
  'payments.insert_payments',
  `INSERT INTO "Payments" (order_id, attempt, outcome, provider_charge_id, error_code, error_message, error_detail, amount_cents, currency, duration_ms)
   SELECT order_id, attempt, outcome, provider_charge_id, error_code, left(error_message, 500), error_detail, amount_cents, currency, duration_ms
   FROM jsonb_to_recordset($1::jsonb) AS x(order_id uuid, attempt int, outcome text, provider_charge_id text, error_code text,
                                           error_message text, error_detail jsonb, amount_cents bigint, currency text, duration_ms int)`,
);
