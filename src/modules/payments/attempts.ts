import type { Sequelize, Transaction } from 'sequelize';
import { metrics } from '../../observability/metrics';
import { redactUrlsIn } from '../../shared/redact-url';
import { insertPayments } from './data/insert-payments';
import { paymentFailureMessage, paymentReasonOf, type PaymentErrorDetail, type PaymentFailureCode } from './failures';
import type { Payment, PaymentOutcome } from './models';

/** One charge attempt as the order flow reports it. */
export interface PaymentAttempt {
  orderId: string;
  attempt: number;
  outcome: PaymentOutcome;
  chargeId: string | null;
  /** A failed attempt's reason; its plain message is stored with it. */
  code?: PaymentFailureCode | null;
  /** The technical account, for operators only. */
  detail?: PaymentErrorDetail | null;
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
    error_message: p.code ? paymentFailureMessage(p.code) : null,
    error_detail: p.detail ?? null,
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

/** Who reads a view: only an admin client sees the technical detail of a failure. */
export type PaymentAudience = 'customer' | 'admin';

export interface PaymentView {
  attempt: number;
  outcome: PaymentOutcome;
  chargeId: string | null;
  errorCode: PaymentFailureCode | null;
  errorMessage: string | null;
  amountCents: number;
  currency: string;
  createdAt: string;
  /** Admin clients only: the technical account of a failure (for rows from before, what they stored). */
  errorDetail?: PaymentErrorDetail | { storedCode: string | null; message: string | null } | null;
}

/**
 * How GET /orders/:id shows a payment attempt. The reason code and its plain message are derived
 * from the stored code, never read from stored text: rows from before reason codes held the
 * library's message (hosts, addresses, ports) in error_message.
 */
export function paymentView(p: Payment, audience: PaymentAudience = 'customer'): PaymentView {
  const errorCode = paymentReasonOf(p.outcome, p.errorCode);
  const view: PaymentView = {
    attempt: p.attempt,
    outcome: p.outcome,
    chargeId: p.providerChargeId,
    errorCode,
    errorMessage: errorCode ? paymentFailureMessage(errorCode) : null,
    amountCents: Number(p.amountCents),
    currency: p.currency,
    createdAt: new Date(p.createdAt).toISOString(),
  };
  if (audience !== 'admin') return view;
  return { ...view, errorDetail: errorCode ? technicalDetailOf(p) : null };
}

/** The stored detail; for a row from before error_detail, what it held instead (its code and text). */
function technicalDetailOf(p: Payment): PaymentView['errorDetail'] {
  if (p.errorDetail) return p.errorDetail;
  if (p.errorCode === null && p.errorMessage === null) return null;
  return { storedCode: p.errorCode, message: p.errorMessage === null ? null : redactUrlsIn(p.errorMessage) };
}

/** The payment columns a payment view reads (an include need not load the rest). */
export const PAYMENT_VIEW_ATTRIBUTES = Object.freeze([
  'attempt', 'outcome', 'providerChargeId', 'errorCode', 'errorMessage', 'errorDetail', 'amountCents', 'currency', 'createdAt',
] as const satisfies ReadonlyArray<keyof Payment>);
