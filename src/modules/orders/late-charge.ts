import type { Sequelize, Transaction } from 'sequelize';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { recordRefundRequest } from '../payments';
import type { ClosedOrder } from './close';
import { PAYMENT_LEASE } from './lifecycle';
import { appendOrderLogs } from './order-log';

/** A successful charge of an order that was already closed. */
export interface LateCharge {
  orderId: string;
  attempt: number;
  chargeId: string;
  amountCents: number;
  currency: string;
  jobId?: string;
  /** Found by asking the provider after the close, rather than from the call's own answer. */
  foundByLookup?: boolean;
}

/**
 * Asks for a late charge's refund inside the caller's transaction, with its story: the charge
 * (PAYMENT_SUCCEEDED, marked late) and REFUND_REQUESTED. The order stays as it was closed; the
 * caller sees that a refund job runs.
 */
export async function requestLateChargeRefund(sequelize: Sequelize, c: LateCharge, transaction: Transaction): Promise<void> {
  await recordRefundRequest(sequelize, {
    orderId: c.orderId, chargeId: c.chargeId, amountCents: c.amountCents, currency: c.currency, reason: 'late_charge', restock: false,
  }, transaction);
  await appendOrderLogs(sequelize, c.orderId, [
    {
      event: 'PAYMENT_SUCCEEDED',
      attempt: c.attempt,
      message: c.foundByLookup
        ? `The provider holds charge ${c.chargeId} for this order, made after the order was closed; it is refunded`
        : `Charge ${c.chargeId} succeeded after the order was closed; it is refunded`,
      details: { chargeId: c.chargeId, lateCharge: true, ...(c.foundByLookup ? { foundByLookup: true } : {}) },
      jobId: c.jobId,
    },
    {
      event: 'REFUND_REQUESTED',
      message: `Refund of ${c.amountCents} ${c.currency} requested: the charge landed after the order was closed`,
      details: { chargeId: c.chargeId, amountCents: c.amountCents, reason: 'late_charge' },
      jobId: c.jobId,
    },
  ], transaction);
}

/**
 * A charge can land after its order closed in two ways: the call answers after its lease ran out
 * (the flow sees that answer and asks for the refund itself), or the call timed out on our side
 * and the provider charged anyway. For the second, an order closed from `reserved` after payment
 * attempts gets a check, durably, in its closing transaction: a refund job that starts once any
 * late call would have landed (one lease later), asks the provider what it holds under the
 * order's key, and refunds what it finds (refund.ts).
 */
export function checkForLateChargeAfterClose(ctx: AppContext, meta: { requestId?: string; traceparent?: string }) {
  return async (closed: ClosedOrder, transaction: Transaction): Promise<void> => {
    if (closed.from !== 'reserved' || closed.paymentAttempts === 0) return;
    await ctx.queue.send(QUEUES.ORDER_REFUND, { orderId: closed.orderId, requestId: meta.requestId, traceparent: meta.traceparent }, {
      transaction,
      startAfter: PAYMENT_LEASE.seconds(ctx.config.payments.timeoutMs),
    });
  };
}
