import type { Sequelize, Transaction } from 'sequelize';
import { metrics } from '../../observability/metrics';
import { insertPayment } from './data/insert-payment';
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

/** Records a charge attempt inside the caller's transaction; the metric follows the commit. */
export async function recordPaymentAttempt(sequelize: Sequelize, p: PaymentAttempt, transaction: Transaction): Promise<void> {
  await insertPayment.rows(
    sequelize,
    [p.orderId, p.attempt, p.outcome, p.chargeId, p.code ?? null, p.message ?? null, p.amountCents, p.currency, p.durationMs],
    transaction,
  );
  transaction.afterCommit(() => metrics.paymentAttempts.inc({ outcome: p.outcome }));
}

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
