import pLimit from 'p-limit';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { commitStock, fellToLowStock, reserveStock, type Shortage } from '../inventory';
import { PaymentDeclinedError, TransientPaymentError, recordPaymentAttempt, type PaymentAttempt } from '../payments';
import { metrics } from '../../observability/metrics';
import { failStory, releaseAndClose } from './close';
import { claimCharge } from './data/claim-charge';
import { linesForReserve } from './data/lines-for-reserve';
import { sweepCandidates } from './data/sweep-candidates';
import { PAYMENT_LEASE, paymentIdempotencyKey, type FailureReason } from './lifecycle';
import { Order } from './models';
import { appendOrderLogs, transitionOrder, type OrderLogEntry } from './order-log';


/**
 * The order flow as steps, each a transaction that changes the order's status with a
 * conditional update (WHERE status = expected), so a job delivered twice changes nothing
 * the second time: reserve (undo: release) → charge → commit, or release and fail.
 */

export type StepOutcome = 'done' | 'skipped' | 'retry';

export interface JobMeta {
  jobId?: string;
  requestId?: string;
}

/** Thrown to make pg-boss retry a charge job; the order stays reserved meanwhile. */
export class RetryableStepError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'RetryableStepError';
  }
}

/** Rolls the reserve transaction back (the charge job with it) when stock is short. */
class OutOfStock extends Error {
  constructor(readonly shortages: Shortage[]) {
    super('out of stock');
    this.name = 'OutOfStock';
  }
}

export class OrderFlow {
  /**
   * Charge attempts run by the hundred, but their database steps (claim, then record the outcome)
   * take turns here, WORKER_CONCURRENCY at a time, so they cannot take the pool from the API.
   */
  private readonly chargeDbSteps: pLimit.Limit;

  constructor(private readonly ctx: AppContext) {
    this.chargeDbSteps = pLimit(ctx.config.queue.workers);
  }

  private get db() {
    return this.ctx.sequelize;
  }

  /**
   * Step 1: reserve every line or none, and enqueue the charge in the same transaction.
   *
   * The charge job is sent before the stock is touched, so the products stay locked for as few
   * round trips as possible (the reservation, the status change, COMMIT). When stock is short the
   * whole transaction rolls back, job included, and a second one fails the order OUT_OF_STOCK.
   */
  async reserve(orderId: string, meta: JobMeta): Promise<StepOutcome> {
    const log = this.ctx.logger.child({ orderId, jobId: meta.jobId, requestId: meta.requestId, step: 'reserve' });
    const outcome = await this.db
      .transaction(async (transaction) => {
        const lines = await linesForReserve.rows(this.db, [orderId], transaction);
        if (!lines.length || lines[0].status !== 'pending') return { kind: 'skipped' as const, status: lines[0]?.status };

        await this.ctx.queue.send(QUEUES.ORDER_CHARGE, { orderId, requestId: meta.requestId }, { transaction });
        const expiresAt = new Date(Date.now() + this.ctx.config.orders.reservationTtlSeconds * 1000);
        const result = await reserveStock(
          this.db,
          orderId,
          lines.map((l) => ({ productId: l.product_id, sku: l.sku, quantity: l.quantity })),
          expiresAt,
          transaction,
        );
        if (!result.ok) throw new OutOfStock(result.shortages);

        const entries: OrderLogEntry[] = [
          {
            event: 'STOCK_RESERVED',
            fromStatus: 'pending',
            toStatus: 'reserved',
            message: `Reserved ${result.lines.map((l) => `${l.quantity} x ${l.sku} (${l.availableAfter} left)`).join(', ')} until ${expiresAt.toISOString()}`,
            details: {
              lines: result.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, availableAfter: l.availableAfter })),
              expiresAt: expiresAt.toISOString(),
            },
            jobId: meta.jobId,
          },
        ];
        const low = result.lines.filter((l) => fellToLowStock(l.availableBefore, l.availableAfter, l.lowStockThreshold));
        if (low.length) transaction.afterCommit(() => metrics.lowStockEvents.inc(low.length));
        for (const line of low) {
          entries.push({
            event: 'LOW_STOCK',
            message: `${line.sku} is low: ${line.availableAfter} available (threshold ${line.lowStockThreshold})`,
            details: { sku: line.sku, available: line.availableAfter, threshold: line.lowStockThreshold },
            jobId: meta.jobId,
          });
        }
        // The order row is locked above, so it is still pending: this cannot miss.
        await transitionOrder(this.db, { orderId, from: 'pending', to: 'reserved' }, entries, transaction);
        return { kind: 'reserved' as const, low };
      })
      .catch(async (error: unknown) => {
        if (!(error instanceof OutOfStock)) throw error;
        return this.failOutOfStock(orderId, error.shortages, meta);
      });

    switch (outcome.kind) {
      case 'skipped':
        log.debug({ status: outcome.status }, 'reserve skipped: order is no longer pending');
        return 'skipped';
      case 'out_of_stock':
        log.info({ shortages: outcome.shortages }, 'order failed: out of stock');
        return 'done';
      case 'reserved':
        for (const line of outcome.low) {
          log.warn({ sku: line.sku, available: line.availableAfter, threshold: line.lowStockThreshold }, 'low stock');
        }
        log.info('stock reserved');
        this.ctx.queue.notify(QUEUES.ORDER_CHARGE);
        return 'done';
    }
  }

  /** Fails a pending order whose stock was short; nothing was reserved or charged, so nothing is released. */
  private async failOutOfStock(orderId: string, shortages: Shortage[], meta: JobMeta) {
    const failed = await this.db.transaction((transaction) =>
      transitionOrder(this.db, { orderId, from: 'pending', to: 'failed', reason: 'OUT_OF_STOCK' }, [
        {
          event: 'OUT_OF_STOCK',
          message: `Not enough stock: ${shortages.map((s) => `${s.sku} (wanted ${s.requested}, available ${s.available})`).join(', ')}`,
          details: { shortages },
          jobId: meta.jobId,
        },
        {
          event: 'ORDER_FAILED',
          fromStatus: 'pending',
          toStatus: 'failed',
          message: 'Order failed: OUT_OF_STOCK, nothing was reserved or charged',
          details: { reason: 'OUT_OF_STOCK' },
          jobId: meta.jobId,
        },
      ], transaction),
    );
    // Null when the order left pending between the two transactions (a cancel won).
    return failed ? { kind: 'out_of_stock' as const, shortages } : { kind: 'skipped' as const, status: undefined };
  }

  /**
   * Step 2: one charge attempt. A lease on the order keeps cancel and the expiry sweeper away
   * while the provider call is in flight. Transient failures throw RetryableStepError so
   * pg-boss retries with backoff; the last attempt, or a decline, releases the stock.
   */
  async charge(orderId: string, meta: JobMeta): Promise<StepOutcome> {
    const { payments: settings } = this.ctx.config;
    const log = this.ctx.logger.child({ orderId, jobId: meta.jobId, requestId: meta.requestId, step: 'charge' });

    // One statement: take the lease, count the attempt and log it (no transaction needed).
    const claimed = await this.chargeDbSteps(() =>
      claimCharge.one(this.db, [orderId, PAYMENT_LEASE.seconds(settings.timeoutMs), settings.maxAttempts, meta.jobId ?? null]));

    if (!claimed) {
      const order = await this.chargeDbSteps(() => Order.findByPk(orderId, { attributes: ['status'] }));
      if (order?.status === 'reserved') {
        // Another delivery of this job holds the lease; come back after it.
        throw new RetryableStepError('PAYMENT_IN_PROGRESS', 'another charge attempt for this order is in flight');
      }
      log.debug({ status: order?.status }, 'charge skipped: order is no longer reserved');
      return 'skipped';
    }

    const { attempt, currency } = claimed;
    const amountCents = Number(claimed.total_cents);
    const started = Date.now();
    try {
      const { chargeId } = await this.ctx.payments.charge({ orderId, amountCents, currency, idempotencyKey: paymentIdempotencyKey(orderId) });
      const durationMs = Date.now() - started;
      await this.chargeDbSteps(() => this.completePaid(orderId, { attempt, amountCents, currency, chargeId, durationMs }, meta));
      log.info({ attempt, chargeId }, 'payment succeeded, order completed');
      return 'done';
    } catch (error) {
      const durationMs = Date.now() - started;
      if (error instanceof PaymentDeclinedError) {
        await this.chargeDbSteps(() => this.recordFailedAttempt(
          { orderId, attempt, amountCents, currency, durationMs, outcome: 'declined', chargeId: null, code: error.code, message: error.message },
          meta,
          'PAYMENT_DECLINED',
        ));
        log.info({ attempt, code: error.code }, 'payment declined, order failed');
        return 'done';
      }
      const transient = error instanceof TransientPaymentError ? error : new TransientPaymentError('UNKNOWN', (error as Error).message);
      const last = attempt >= settings.maxAttempts;
      await this.chargeDbSteps(() => this.recordFailedAttempt(
        { orderId, attempt, amountCents, currency, durationMs, outcome: 'failed', chargeId: null, code: transient.code, message: transient.message },
        meta,
        last ? 'PAYMENT_RETRIES_EXHAUSTED' : null,
      ));
      if (last) {
        log.warn({ attempt, code: transient.code }, 'payment failed on the last attempt, order failed');
        return 'done';
      }
      log.info({ attempt, code: transient.code }, 'payment attempt failed, will retry');
      throw new RetryableStepError(transient.code, transient.message);
    }
  }

  private async completePaid(
    orderId: string,
    p: { attempt: number; amountCents: number; currency: string; chargeId: string; durationMs: number },
    meta: JobMeta,
  ): Promise<void> {
    await this.db.transaction(async (transaction) => {
      await recordPaymentAttempt(this.db, { orderId, ...p, outcome: 'succeeded' }, transaction);
      // Only an order that is still reserved has active reservations to commit.
      const committed = await commitStock(this.db, orderId, transaction);
      const completed = await transitionOrder(this.db, { orderId, from: 'reserved', to: 'completed' }, [
        {
          event: 'PAYMENT_SUCCEEDED',
          attempt: p.attempt,
          message: `Charged ${p.amountCents} ${p.currency} on attempt ${p.attempt} (charge ${p.chargeId})`,
          details: { chargeId: p.chargeId, durationMs: p.durationMs },
          jobId: meta.jobId,
        },
        {
          event: 'STOCK_COMMITTED',
          message: `Took ${committed.map((l) => `${l.quantity} x ${l.sku}`).join(', ')} out of stock`,
          details: { lines: committed },
          jobId: meta.jobId,
        },
        {
          event: 'ORDER_COMPLETED',
          fromStatus: 'reserved',
          toStatus: 'completed',
          message: 'Order completed',
          jobId: meta.jobId,
        },
      ], transaction);
      if (completed) return;
      if (committed.length) throw new Error(`order ${orderId} had active reservations but was not reserved`);
      // Only possible if the lease ran out mid-call and a cancel or the sweeper won.
      await appendOrderLogs(this.db, orderId, [{
        event: 'PAYMENT_SUCCEEDED',
        attempt: p.attempt,
        message: `Charge ${p.chargeId} succeeded after the order was closed; it needs a refund`,
        details: { chargeId: p.chargeId, needsRefund: true },
        jobId: meta.jobId,
      }], transaction);
      this.ctx.logger.error({ orderId, jobId: meta.jobId, requestId: meta.requestId, chargeId: p.chargeId }, 'charge succeeded after the order was closed: refund needed');
    });
  }

  /** Records a failed attempt; with a final reason it also releases the stock and fails the order. */
  private async recordFailedAttempt(
    p: PaymentAttempt & { outcome: 'failed' | 'declined'; code: string; message: string },
    meta: JobMeta,
    finalReason: FailureReason | null,
  ): Promise<void> {
    const { maxAttempts } = this.ctx.config.payments;
    await this.db.transaction(async (transaction) => {
      await recordPaymentAttempt(this.db, p, transaction);
      const event = p.outcome === 'declined' ? 'PAYMENT_DECLINED' : 'PAYMENT_FAILED';
      const next = finalReason ? 'no retries left' : `will retry (attempt ${p.attempt + 1} of ${maxAttempts} next)`;
      await appendOrderLogs(this.db, p.orderId, [{
        event,
        attempt: p.attempt,
        message: p.outcome === 'declined'
          ? `Payment declined on attempt ${p.attempt}: ${p.code}`
          : `Payment attempt ${p.attempt} of ${maxAttempts} failed: ${p.code} (${p.message}); ${next}`,
        details: { errorCode: p.code, error: p.message, durationMs: p.durationMs },
        jobId: meta.jobId,
      }], transaction);
      if (finalReason) {
        // This attempt holds the lease itself.
        await this.failReserved(p.orderId, finalReason, meta, { transaction, ignoreLease: true });
      } else {
        // Free the lease for the retry; not a status change, so updated_at stays.
        await Order.update({ paymentLeaseUntil: null }, { where: { id: p.orderId }, transaction, silent: true });
      }
    });
  }

  /**
   * Releases a reserved order's stock and marks it failed, through the one close path. Used for
   * declines, the last failed attempt, charge jobs that died (dead letter) and expired
   * reservations. Returns false when the order was not reserved (already settled) or a charge
   * attempt holds the lease.
   */
  async failReserved(
    orderId: string,
    reason: FailureReason,
    meta: JobMeta,
    options: { transaction?: Transaction; ignoreLease?: boolean } = {},
  ): Promise<boolean> {
    const outcome = await releaseAndClose(
      this.db,
      orderId,
      { from: ['reserved'], to: 'failed', reason, respectLease: !options.ignoreLease, story: failStory(reason, meta.jobId) },
      options.transaction,
    );
    return outcome.kind === 'closed';
  }

  /**
   * For a reserved order with earlier payment attempts: when the provider holds a successful charge
   * under the order's idempotency key (its answer was lost, or its worker died), sends one more
   * charge job (the provider replays the charge and the order completes) and returns true. Throws
   * when the provider cannot be asked, so no caller fails an order whose customer may have paid.
   */
  async collectLostCharge(orderId: string, meta: JobMeta): Promise<boolean> {
    const order = await Order.findByPk(orderId, { attributes: ['status', 'paymentAttempts'] });
    if (order?.status !== 'reserved' || order.paymentAttempts === 0) return false;
    const charge = await this.ctx.payments.findCharge({ orderId, idempotencyKey: paymentIdempotencyKey(orderId) });
    if (charge?.status !== 'succeeded') return false;
    const chargeJobId = await this.ctx.queue.send(QUEUES.ORDER_CHARGE, { orderId, requestId: meta.requestId });
    this.ctx.logger.warn({ orderId, jobId: meta.jobId, chargeJobId, chargeId: charge.chargeId, requestId: meta.requestId }, 'the provider holds a charge for this order: one more attempt collects it');
    return true;
  }

  /** Fails orders whose reservation expired (their charge job was lost or stuck); one batch per call. */
  async sweepExpired(meta: JobMeta): Promise<number> {
    const candidates = await sweepCandidates.rows(this.db, [this.ctx.config.orders.sweeperBatchSize]);
    let failed = 0;
    for (const { order_id: orderId } of candidates) {
      try {
        if (await this.collectLostCharge(orderId, meta)) continue;
      } catch (error) {
        // The customer may have paid; fail the order only once the provider can say it did not.
        this.ctx.logger.warn({ orderId, jobId: meta.jobId, err: error }, 'reservation expired but the provider cannot be asked about a charge; trying again next sweep');
        continue;
      }
      if (await this.failReserved(orderId, 'RESERVATION_EXPIRED', meta)) {
        failed += 1;
        this.ctx.logger.warn({ orderId, jobId: meta.jobId }, 'reservation expired: stock released, order failed');
      }
    }
    return failed;
  }
}
