import type { Sequelize, Transaction } from 'sequelize';
import { metrics } from '../../observability/metrics';
import { insertPayments } from './data/insert-payments';
import type { Payment, PaymentOutcome } from './models';

/** One charge attempt as the order flow reports it. */
export interface PaymentAttempt {
  orderId: string;
  attempt: number;
  outcome: PaymentOutcome;
  chargeId: string | null;
  code?: string | null;
  message?: string | null;
  amountCents: number;
  currency: string;
  durationMs: number;
}

/** Records charge attempts inside the caller's transaction, in one statement; the metric follows the commit. */
export async function recordPaymentAttempts(sequelize: Sequelize, attempts: PaymentAttempt[], transaction: Transaction): Promise<void> {
  if (!attempts.length) return;
  const rows = attempts.map((p) => ({
    order_id: p.orderId,
    attempt: p.attempt,
    outcome: p.outcome,
    provider_charge_id: p.chargeId,
    error_code: p.code ?? null,
    error_message: p.message ?? null,
    amount_cents: p.amountCents,
    currency: p.currency,
    duration_ms: p.durationMs,
  }));
  await insertPayments.rows(sequelize, [JSON.stringify(rows)], transaction);
  transaction.afterCommit(() => {
    for (const p of attempts) metrics.paymentAttempts.inc({ outcome: p.outcome });
  });
}

export const recordPaymentAttempt = (sequelize: Sequelize, p: PaymentAttempt, transaction: Transaction) => recordPaymentAttempts(sequelize, [p], transaction);

/** How GET /orders/:id shows a payment attempt. */
export function paymentView(p: Payment) {
  return {
    attempt: p.attempt,
    outcome: p.outcome,
    chargeId: p.providerChargeId,
    errorCode: p.errorCode,
    errorMessage: p.errorMessage,
    amountCents: Number(p.amountCents),
    currency: p.currency,
    createdAt: new Date(p.createdAt).toISOString(),
  };
}

/** The payment columns a payment view reads (an include need not load the rest). */
export const PAYMENT_VIEW_ATTRIBUTES = Object.freeze([
  'attempt', 'outcome', 'providerChargeId', 'errorCode', 'errorMessage', 'amountCents', 'currency', 'createdAt',
] as const satisfies ReadonlyArray<keyof Payment>);
