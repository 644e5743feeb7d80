import type { Sequelize, Transaction } from 'sequelize';
import { metrics } from '../../observability/metrics';
import { requestRefund } from './data/request-refund';
import { startRefundAttempt } from './data/start-refund-attempt';
import { paymentFailureMessage, type PaymentErrorDetail, type PaymentFailureCode } from './failures';
import { Payment, Refund, type RefundReason, type RefundStatus } from './models';

/**
 * The "Refunds" table, which only this module writes: the order flow asks for a refund in the
 * transaction that makes it necessary, and the refund job counts its calls and settles it.
 */

export interface RefundToRequest {
  orderId: string;
  chargeId: string;
  amountCents: number;
  currency: string;
  reason: RefundReason;
  restock: boolean;
}

/** Asks for a refund inside the caller's transaction; false when one is already requested or paid out. */
export async function recordRefundRequest(sequelize: Sequelize, r: RefundToRequest, transaction: Transaction): Promise<boolean> {
  const row = await requestRefund.one(sequelize, [r.orderId, r.chargeId, r.amountCents, r.currency, r.reason, r.restock], transaction);
  if (row) transaction.afterCommit(() => metrics.refunds.inc({ reason: r.reason, outcome: 'requested' }));
  return row !== null;
}

export interface RefundAttempt {
  attempt: number;
  chargeId: string;
  amountCents: number;
  currency: string;
  reason: RefundReason;
}

/** Counts a refund call about to be made; null when the refund is no longer waiting. */
export async function beginRefundAttempt(sequelize: Sequelize, orderId: string): Promise<RefundAttempt | null> {
  const row = await startRefundAttempt.one(sequelize, [orderId]);
  return row && { ...row, amountCents: Number(row.amountCents), reason: row.reason as RefundReason };
}

/** Gives one call back: it was never made (the circuit opened between the count and the call). */
export async function giveBackRefundAttempt(orderId: string, attempt: number): Promise<void> {
  await Refund.decrement('attempts', { where: { orderId, status: 'requested', attempts: attempt } });
}

export type RefundSettlement =
  | { status: 'succeeded'; refundId: string }
  | { status: 'failed'; code: PaymentFailureCode; detail: PaymentErrorDetail };

/**
 * Settles a waiting refund inside the caller's transaction; returns its reason and restock flag,
 * or null when it was not waiting (another delivery settled it first).
 */
export async function settleRefund(
  orderId: string,
  settlement: RefundSettlement,
  transaction: Transaction,
): Promise<{ reason: RefundReason; restock: boolean } | null> {
  const values = settlement.status === 'succeeded'
    ? { status: 'succeeded' as const, providerRefundId: settlement.refundId, errorCode: null, errorDetail: null }
    : { status: 'failed' as const, errorCode: settlement.code, errorDetail: settlement.detail };
  const [, rows] = await Refund.update(values, { where: { orderId, status: 'requested' }, returning: true, transaction });
  const row = rows[0];
  if (!row) return null;
  transaction.afterCommit(() => metrics.refunds.inc({ reason: row.reason, outcome: settlement.status }));
  return { reason: row.reason, restock: row.restock };
}

/** Keeps a failed call's reason on a refund that will be tried again. */
export async function recordRefundError(orderId: string, code: PaymentFailureCode, detail: PaymentErrorDetail): Promise<void> {
  await Refund.update({ errorCode: code, errorDetail: detail }, { where: { orderId, status: 'requested' } });
}

/** The order's refund, if one was ever requested. */
export async function refundOf(orderId: string): Promise<Refund | null> {
  return Refund.findOne({ where: { orderId } });
}

/** The order's successful charge, the one a refund pays back. */
export async function succeededChargeOf(orderId: string, transaction?: Transaction): Promise<Payment | null> {
  return Payment.scope('succeeded').findOne({ where: { orderId }, transaction });
}

export interface RefundView {
  status: RefundStatus;
  reason: RefundReason;
  amountCents: number;
  currency: string;
  restock: boolean;
  chargeId: string;
  refundId: string | null;
  attempts: number;
  errorCode: PaymentFailureCode | null;
  errorMessage: string | null;
  requestedAt: string;
  updatedAt: string;
}

/** How GET /orders/:id shows a refund (the technical detail of a failure stays in the table and the logs). */
export function refundView(r: Refund): RefundView {
  const errorCode = (r.errorCode as PaymentFailureCode | null) ?? null;
  return {
    status: r.status,
    reason: r.reason,
    amountCents: Number(r.amountCents),
    currency: r.currency,
    restock: r.restock,
    chargeId: r.providerChargeId,
    refundId: r.providerRefundId,
    attempts: r.attempts,
    errorCode,
    errorMessage: errorCode ? paymentFailureMessage(errorCode) : null,
    requestedAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

export const REFUND_VIEW_ATTRIBUTES = Object.freeze([
  'status', 'reason', 'amountCents', 'currency', 'restock', 'providerChargeId', 'providerRefundId', 'attempts', 'errorCode', 'createdAt', 'updatedAt',
] as const satisfies ReadonlyArray<keyof Refund>);

/** How many refunds are waiting, paid out and given up (the dashboard). */
export async function refundCounts(): Promise<Record<RefundStatus, number>> {
  const counts: Record<RefundStatus, number> = { requested: 0, succeeded: 0, failed: 0 };
  for (const row of await Refund.count({ group: ['status'] })) counts[row.status as RefundStatus] = Number(row.count);
  return counts;
}
