import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { AppError } from '../../shared/errors';
import { restockOrder } from '../inventory';
import {
  ProviderCircuitOpenError,
  RefundRefusedError,
  asPaymentError,
  beginRefundAttempt,
  giveBackRefundAttempt,
  recordRefundError,
  recordPaymentAttempt,
  recordRefundRequest,
  refundOf,
  settleRefund,
  succeededChargeOf,
  paymentFailureMessage,
  type PaymentErrorDetail,
  type PaymentFailureCode,
  type RefundAttempt,
} from '../payments';
import { deferWhileCircuitOpen } from './deferral';
import { RetryableStepError, type JobMeta } from './flow';
import { requestLateChargeRefund } from './late-charge';
import { paymentIdempotencyKey, refundIdempotencyKey } from './lifecycle';
import { Order } from './models';
import { appendOrderLogs, transitionOrder, type OrderLogEntry } from './order-log';

/**
 * Refunds, durably: a refund is requested in the transaction that makes it necessary (an admin's
 * POST /orders/:id/refund, or a charge that landed after its order closed, see flow.ts) together
 * with its job; the job calls the provider under a stable idempotency key until it confirms, so
 * however often it runs, one refund is paid out. A refund the provider confirms settles in one
 * transaction: REFUND_SUCCEEDED, and for an admin's refund the order moves completed → refunded,
 * its goods go back on hand (unless restock is false) and its story ends with ORDER_REFUNDED.
 */
export class RefundFlow {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.sequelize;
  }

  /**
   * An admin's refund of a completed order, in full. Returns 'requested' for a new request and
   * 'existing' when the order's refund was already requested or paid out (nothing changes).
   */
  async request(orderId: string, options: { restock: boolean; requestId?: string }): Promise<'requested' | 'existing'> {
    const outcome = await this.db.transaction(async (transaction) => {
      const order = await Order.findByPk(orderId, { attributes: ['id', 'status', 'totalCents', 'currency', 'traceparent'], lock: transaction.LOCK.UPDATE, transaction });
      if (!order) throw new AppError('ORDER_NOT_FOUND', `No order ${orderId}`);
      if (order.status === 'refunded') return 'existing' as const;
      if (order.status !== 'completed') {
        throw new AppError('ORDER_NOT_REFUNDABLE', `The order is ${order.status}; only a completed order can be refunded`, { status: order.status });
      }
      const charge = await succeededChargeOf(orderId, transaction);
      if (!charge?.providerChargeId) throw new Error(`completed order ${orderId} has no successful charge`);
      const amountCents = Number(charge.amountCents);
      const requested = await recordRefundRequest(this.db, {
        orderId, chargeId: charge.providerChargeId, amountCents, currency: charge.currency, reason: 'requested', restock: options.restock,
      }, transaction);
      if (!requested) return 'existing' as const;
      await appendOrderLogs(this.db, orderId, [{
        event: 'REFUND_REQUESTED',
        message: `Refund of ${amountCents} ${charge.currency} requested${options.restock ? ', goods back in stock' : ', goods not restocked'}`,
        details: { chargeId: charge.providerChargeId, amountCents, reason: 'requested', restock: options.restock },
        requestId: options.requestId,
      }], transaction);
      // The refund's job joins the order's trace (the request asking for it is a trace of its own).
      await this.ctx.queue.send(QUEUES.ORDER_REFUND, { orderId, requestId: options.requestId, traceparent: order.traceparent ?? undefined }, { transaction });
      return 'requested' as const;
    });
    if (outcome === 'requested') {
      this.ctx.queue.notify(QUEUES.ORDER_REFUND);
      this.ctx.logger.info({ orderId, requestId: options.requestId, restock: options.restock }, 'refund requested');
    }
    return outcome;
  }

  /**
   * The refund job: one call to the provider. While the circuit is open the job is put off and no
   * attempt is spent; a failure the provider may not have acted on is retried (pg-boss, backoff)
   * until REFUND_MAX_ATTEMPTS, a refusal ends the refund as failed.
   */
  async run(orderId: string, meta: JobMeta): Promise<'done' | 'skipped' | 'deferred'> {
    const circuit = this.ctx.payments.circuit;
    const admission = circuit?.admission() ?? 'call';
    if (!admission) {
      await deferWhileCircuitOpen(this.ctx, QUEUES.ORDER_REFUND, orderId, meta);
      return 'deferred';
    }
    let attempt = await beginRefundAttempt(this.db, orderId);
    if (!attempt) {
      // No refund waiting: either it is settled (a job delivered twice), or this is the check an
      // order closed after payment attempts gets (late-charge.ts).
      if (await refundOf(orderId)) return 'skipped';
      try {
        if (!(await this.collectLateCharge(orderId, meta))) return 'skipped';
      } catch (error) {
        if (error instanceof ProviderCircuitOpenError) {
          await deferWhileCircuitOpen(this.ctx, QUEUES.ORDER_REFUND, orderId, meta);
          return 'deferred';
        }
        const failure = asPaymentError(error);
        throw new RetryableStepError(failure.code, `the provider could not say whether it holds a charge: ${failure.message}`);
      }
      attempt = await beginRefundAttempt(this.db, orderId);
      if (!attempt) return 'skipped';
    }
    const log = this.ctx.logger.child({ orderId, jobId: meta.jobId, requestId: meta.requestId, step: 'refund', attempt: attempt.attempt });
    try {
      const { refundId } = await this.ctx.payments.refund({
        orderId, chargeId: attempt.chargeId, amountCents: attempt.amountCents, idempotencyKey: refundIdempotencyKey(orderId),
      });
      await this.succeeded(orderId, attempt, refundId, meta);
      log.info({ refundId }, 'refund succeeded');
      return 'done';
    } catch (error) {
      const failure = error instanceof ProviderCircuitOpenError ? null : asPaymentError(error);
      // Not made (the circuit opened since the admission), or a failed probe of the half-open
      // circuit, which says the outage goes on: neither is this refund's attempt.
      if (!failure || (admission === 'probe' && !(failure instanceof RefundRefusedError))) {
        await giveBackRefundAttempt(orderId, attempt.attempt);
        await deferWhileCircuitOpen(this.ctx, QUEUES.ORDER_REFUND, orderId, meta);
        return 'deferred';
      }
      const final = failure instanceof RefundRefusedError || attempt.attempt >= this.ctx.config.payments.refunds.maxAttempts;
      await this.failedAttempt(orderId, attempt, failure.code, failure.detail, final, meta);
      if (final) {
        log.error({ code: failure.code, detail: failure.detail }, 'refund failed for good: an admin must look at it (POST /orders/:id/refund asks again)');
        return 'done';
      }
      log.warn({ code: failure.code, detail: failure.detail }, 'refund attempt failed, will retry');
      throw new RetryableStepError(failure.code, failure.message);
    }
  }

  /**
   * For a failed or cancelled order with payment attempts and no recorded charge: when the provider
   * holds a successful charge under the order's key (a call that timed out on our side and was
   * made anyway), records it as one more attempt that found it, with its refund requested, in one
   * transaction. Returns whether it did. Throws when the provider cannot be asked.
   */
  private async collectLateCharge(orderId: string, meta: JobMeta): Promise<boolean> {
    const order = await Order.findByPk(orderId, { attributes: ['status', 'paymentAttempts'] });
    if (!order || (order.status !== 'failed' && order.status !== 'cancelled') || order.paymentAttempts === 0) return false;
    if (await succeededChargeOf(orderId)) return false;
    const charge = await this.ctx.payments.findCharge({ orderId, idempotencyKey: paymentIdempotencyKey(orderId) });
    if (charge?.status !== 'succeeded') {
      this.ctx.logger.debug({ orderId, jobId: meta.jobId, step: 'refund' }, 'no late charge at the provider for this closed order');
      return false;
    }
    const recorded = await this.db.transaction(async (transaction) => {
      const locked = await Order.findByPk(orderId, { attributes: ['id', 'paymentAttempts', 'totalCents', 'currency'], lock: transaction.LOCK.UPDATE, transaction });
      if (!locked || (await succeededChargeOf(orderId, transaction))) return false;
      const attempt = locked.paymentAttempts + 1;
      const amountCents = Number(locked.totalCents);
      await recordPaymentAttempt(this.db, {
        orderId, attempt, outcome: 'succeeded', chargeId: charge.chargeId, amountCents, currency: locked.currency, durationMs: 0,
      }, transaction);
      await Order.update({ paymentAttempts: attempt }, { where: { id: orderId }, transaction, silent: true });
      await requestLateChargeRefund(this.db, {
        orderId, attempt, chargeId: charge.chargeId, amountCents, currency: locked.currency, jobId: meta.jobId, foundByLookup: true,
      }, transaction);
      return true;
    });
    if (recorded) this.ctx.logger.warn({ orderId, jobId: meta.jobId, chargeId: charge.chargeId }, 'a charge landed after its order was closed: refund requested');
    return recorded;
  }

  private async succeeded(orderId: string, attempt: RefundAttempt, refundId: string, meta: JobMeta): Promise<void> {
    await this.db.transaction(async (transaction) => {
      const settled = await settleRefund(orderId, { status: 'succeeded', refundId }, transaction);
      if (!settled) return;
      const entries: OrderLogEntry[] = [{
        event: 'REFUND_SUCCEEDED',
        attempt: attempt.attempt,
        message: `Refunded ${attempt.amountCents} ${attempt.currency} on attempt ${attempt.attempt} (refund ${refundId})`,
        details: { refundId, chargeId: attempt.chargeId, amountCents: attempt.amountCents },
        jobId: meta.jobId,
      }];
      if (settled.reason === 'late_charge') {
        await appendOrderLogs(this.db, orderId, entries, transaction);
        return;
      }
      // An admin's refund: the order was completed when it was asked, and nothing else moves a completed order.
      if (settled.restock) {
        const lines = await restockOrder(this.db, orderId, transaction);
        entries.push({
          event: 'STOCK_RESTOCKED',
          message: lines.length ? `Put ${lines.map((l) => `${l.quantity} x ${l.sku}`).join(', ')} back in stock` : 'Nothing to put back in stock',
          details: { lines },
          jobId: meta.jobId,
        });
      }
      entries.push({ event: 'ORDER_REFUNDED', fromStatus: 'completed', toStatus: 'refunded', message: 'Order refunded in full', jobId: meta.jobId });
      const changed = await transitionOrder(this.db, { orderId, from: 'completed', to: 'refunded' }, entries, transaction);
      if (!changed) throw new Error(`order ${orderId} was not completed when its refund succeeded`);
    });
  }

  private async failedAttempt(
    orderId: string,
    attempt: RefundAttempt,
    code: PaymentFailureCode,
    detail: PaymentErrorDetail,
    final: boolean,
    meta: JobMeta,
  ): Promise<void> {
    const plain = `${code} (${paymentFailureMessage(code).replace(/\.$/, '')})`;
    const max = this.ctx.config.payments.refunds.maxAttempts;
    const entry: OrderLogEntry = {
      event: 'REFUND_FAILED',
      attempt: attempt.attempt,
      message: `Refund attempt ${attempt.attempt} of ${max} failed: ${plain}${final ? '; not retried' : '; will retry'}`,
      details: { errorCode: code, final },
      jobId: meta.jobId,
    };
    if (!final) {
      await recordRefundError(orderId, code, detail);
      await appendOrderLogs(this.db, orderId, [entry]);
      return;
    }
    await this.db.transaction(async (transaction) => {
      if (await settleRefund(orderId, { status: 'failed', code, detail }, transaction)) await appendOrderLogs(this.db, orderId, [entry], transaction);
    });
  }
}
