import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import type { ClosedOrder } from './close';
import { PAYMENT_LEASE } from './lifecycle';

/**
 * A charge can land after its order closed in two ways: the call answers after its lease ran out
 * (the flow sees that answer and asks for the refund itself), or the call timed out on our side
 * and the provider charged anyway. For the second, an order closed from `reserved` after payment
 * attempts gets a check, durably, in its closing transaction: a refund job that starts once any
 * late call would have landed (one lease later), asks the provider what it holds under the
 * order's key, and refunds what it finds (refund.ts).
 */
export function checkForLateChargeAfterClose(ctx: AppContext, requestId?: string) {
  return async (closed: ClosedOrder, transaction: Transaction): Promise<void> => {
    if (closed.from !== 'reserved' || closed.paymentAttempts === 0) return;
    await ctx.queue.send(QUEUES.ORDER_REFUND, { orderId: closed.orderId, requestId }, {
      transaction,
      startAfter: PAYMENT_LEASE.seconds(ctx.config.payments.timeoutMs),
    });
  };
}
