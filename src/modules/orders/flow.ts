import { publishEvents } from '../events';
import pLimit from 'p-limit';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { grouped } from '../../shared/grouped';
import { commitStockOf, fellToLowStock, reserveStockBatch, type OrderToReserve, type ReservedLine, type SettledLine, type Shortage } from '../inventory';
import {
  PaymentDeclinedError,
  ProviderCircuitOpenError,
  asPaymentError,
  recordPaymentAttempt,
  recordPaymentAttempts,
  type PaymentAttempt,
  type PaymentErrorDetail,
  type PaymentFailureCode,
} from '../payments';
import { metrics } from '../../observability/metrics';
import { annotate, inSpan, openSpan, recordError, traceparentOf, withSpan } from '../../observability/traces';
import { failStory, releaseAndClose } from './close';
import { deferWhileCircuitOpen } from './deferral';
import { checkForLateChargeAfterClose, requestLateChargeRefund } from './late-charge';
import { claimCharges, type ClaimRow } from './data/claim-charges';
import { linesForReserveBatch } from './data/lines-for-reserve-batch';
import { sweepCandidates } from './data/sweep-candidates';
import { PAYMENT_LEASE, paymentIdempotencyKey, type FailureReason } from './lifecycle';
import { Order } from './models';
import { appendOrderLogs, freeLeasesAndLog, paymentFailedEntry, transitionOrders, type OrderLogEntry, type OrderTransition } from './order-log';


/**
 * The order flow as steps, each a transaction that changes the order's status with a
 * conditional update (WHERE status = expected), so a job delivered twice changes nothing
 * the second time: reserve (undo: release) → charge → commit, or release and fail.
 */

export type StepOutcome = 'done' | 'skipped' | 'retry' | 'deferred';

export interface JobMeta {
  jobId?: string;
  requestId?: string;
  /** The trace this step's spans join, and the jobs it sends carry on (src/observability/traces.ts). */
  traceparent?: string;
  /** How many times the open circuit breaker has put this job off so far. */
  deferrals?: number;
}

/** Thrown to make pg-boss retry a charge job; the order stays reserved meanwhile. */
export class RetryableStepError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'RetryableStepError';
  }
}

/** A successful charge waiting for its group's transaction. */
interface PaidCharge {
  orderId: string;
  attempt: number;
  amountCents: number;
  currency: string;
  chargeId: string;
  durationMs: number;
  meta: JobMeta;
}

/** A failed attempt that will be tried again, waiting for its group's transaction. */
type RetryableFailure = PaymentAttempt & { outcome: 'failed'; code: PaymentFailureCode; detail: PaymentErrorDetail; meta: JobMeta };

/** How long a charge's claim or success waits for others to share its statement or transaction. */
const GROUP_WINDOW_MS = 2;

/** Group transactions of charge outcomes at once, per kind; outcomes due meanwhile join the next one (completions all lock products). */
const OUTCOME_GROUPS_IN_FLIGHT = 2;

/** PAYMENT_SUCCEEDED, STOCK_COMMITTED and ORDER_COMPLETED: a paid order's last log rows. */
function paidStory(p: PaidCharge, committed: SettledLine[]): OrderLogEntry[] {
  return [
    {
      event: 'PAYMENT_SUCCEEDED',
      attempt: p.attempt,
      message: `Charged ${p.amountCents} ${p.currency} on attempt ${p.attempt} (charge ${p.chargeId})`,
      details: { chargeId: p.chargeId, durationMs: p.durationMs },
      jobId: p.meta.jobId,
    },
    {
      event: 'STOCK_COMMITTED',
      message: `Took ${committed.map((l) => `${l.quantity} x ${l.sku}`).join(', ')} out of stock`,
      details: { lines: committed },
      jobId: p.meta.jobId,
    },
    { event: 'ORDER_COMPLETED', fromStatus: 'reserved', toStatus: 'completed', message: 'Order completed', jobId: p.meta.jobId },
  ];
}

/** STOCK_RESERVED (and LOW_STOCK for each product that fell to its threshold): a reserved order's log rows. */
function reservedStory(lines: ReservedLine[], low: ReservedLine[], expiresAt: Date, jobId?: string): OrderLogEntry[] {
  return [
    {
      event: 'STOCK_RESERVED',
      fromStatus: 'pending',
      toStatus: 'reserved',
      message: `Reserved ${lines.map((l) => `${l.quantity} x ${l.sku} (${l.availableAfter} left)`).join(', ')} until ${expiresAt.toISOString()}`,
      details: {
        lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, availableAfter: l.availableAfter })),
        expiresAt: expiresAt.toISOString(),
      },
      jobId,
    },
    ...low.map((line): OrderLogEntry => ({
      event: 'LOW_STOCK',
      message: `${line.sku} is low: ${line.availableAfter} available (threshold ${line.lowStockThreshold})`,
      details: { sku: line.sku, available: line.availableAfter, threshold: line.lowStockThreshold },
      jobId,
    })),
  ];
}

/** OUT_OF_STOCK and ORDER_FAILED: nothing was reserved or charged, so nothing is released. */
function outOfStockStory(shortages: Shortage[], jobId?: string): OrderLogEntry[] {
  return [
    {
      event: 'OUT_OF_STOCK',
      message: `Not enough stock: ${shortages.map((s) => `${s.sku} (wanted ${s.requested}, available ${s.available})`).join(', ')}`,
      details: { shortages },
      jobId,
    },
    {
      event: 'ORDER_FAILED',
      fromStatus: 'pending',
      toStatus: 'failed',
      message: 'Order failed: OUT_OF_STOCK, nothing was reserved or charged',
      details: { reason: 'OUT_OF_STOCK' },
      jobId,
    },
  ];
}

export class OrderFlow {
  /**
   * Charge attempts run by the hundred, but their database steps (claim, then record the outcome)
   * take turns here, WORKER_CONCURRENCY at a time, so they cannot take the pool from the API.
   */
  private readonly chargeDbSteps: pLimit.Limit;
  /** Charge attempts fetched together claim their orders in one statement (see claimMany). */
  private readonly claim: (request: { orderId: string; jobId: string | null }) => Promise<ClaimRow | null>;
  /** Group commit of successful charges (see completePaidMany), two groups at a time. Resolves to whether the order completed. */
  private readonly completePaid: (paid: PaidCharge) => Promise<boolean>;
  /** Group commit of failed attempts that will be retried (see recordRetryableFailures). */
  private readonly recordRetryable: (failure: RetryableFailure) => Promise<void>;

  constructor(private readonly ctx: AppContext) {
    this.chargeDbSteps = pLimit(ctx.config.queue.workers);
    const group = { windowMs: GROUP_WINDOW_MS, maxSize: ctx.config.queue.batchSize };
    this.claim = grouped((requests) => this.chargeDbSteps(() => this.claimMany(requests)), group);
    this.completePaid = grouped(async (paid: readonly PaidCharge[]) => {
      const late = await this.completePaidMany([...paid]);
      return paid.map((p) => !late.has(p.orderId));
    }, { ...group, maxInFlight: OUTCOME_GROUPS_IN_FLIGHT });
    this.recordRetryable = grouped(async (failures: readonly RetryableFailure[]) => {
      await this.recordRetryableFailures([...failures]);
      return failures.map(() => undefined);
    }, { ...group, maxInFlight: OUTCOME_GROUPS_IN_FLIGHT });
  }

  private get db() {
    return this.ctx.sequelize;
  }

  /** Step 1 for one order (a batch of one): 'skipped' when the order was no longer pending. */
  async reserve(orderId: string, meta: JobMeta): Promise<StepOutcome> {
    const [outcome] = await this.reserveBatch([{ orderId, ...meta }]);
    return outcome === 'skipped' ? 'skipped' : 'done';
  }

  /**
   * Step 1, set-based, for a batch of reserve jobs in one transaction: the batch's pending orders
   * are locked, every order that fits is reserved in arrival order (each all lines or none, a hot
   * SKU handed out exactly) and moves to reserved with its charge job enqueued; the others fail
   * OUT_OF_STOCK, naming their short SKUs. An order that is no longer pending (a job delivered
   * twice, a cancel first) changes nothing. Returns each job's outcome, in the order given.
   */
  async reserveBatch(jobs: Array<JobMeta & { orderId: string }>): Promise<Array<'reserved' | 'out_of_stock' | 'skipped'>> {
    const expiresAt = new Date(Date.now() + this.ctx.config.orders.reservationTtlSeconds * 1000);
    const jobOf = new Map(jobs.map((j) => [j.orderId, j]));
    // One transaction for the batch, but each order's reserve is a span of that order's own trace.
    const spans = new Map(jobs.map((j) => [j.orderId, openSpan('order.reserve', {
      parent: j.traceparent ?? null,
      attributes: { order_id: j.orderId, 'job.queue': QUEUES.ORDER_RESERVE, ...(j.jobId ? { 'job.id': j.jobId } : {}), 'batch.size': jobs.length },
    })]));
    let settled: { outcomes: Map<string, 'reserved' | 'out_of_stock'>; lowStock: Array<{ orderId: string; line: ReservedLine }> };
    try {
      settled = await this.reserveInTransaction(jobOf, spans, expiresAt);
    } catch (error) {
      for (const span of spans.values()) {
        recordError(span, error);
        span.end();
      }
      throw error;
    }
    const { outcomes, lowStock } = settled;

    for (const { orderId, line } of lowStock) {
      withSpan(spans.get(orderId)!, () => this.ctx.logger.warn({ orderId, jobId: jobOf.get(orderId)?.jobId, sku: line.sku, available: line.availableAfter, threshold: line.lowStockThreshold }, 'low stock'));
    }
    const answer = jobs.map((job) => {
      const outcome = outcomes.get(job.orderId) ?? 'skipped';
      const span = spans.get(job.orderId)!;
      span.setAttribute('order.outcome', outcome);
      const fields = { orderId: job.orderId, jobId: job.jobId, requestId: job.requestId, step: 'reserve' };
      withSpan(span, () => {
        if (outcome === 'reserved') this.ctx.logger.info(fields, 'stock reserved');
        else if (outcome === 'out_of_stock') this.ctx.logger.info(fields, 'order failed: out of stock');
        else this.ctx.logger.debug(fields, 'reserve skipped: order is no longer pending');
      });
      span.end();
      return outcome;
    });
    if (answer.includes('reserved')) this.ctx.queue.notify(QUEUES.ORDER_CHARGE);
    return answer;
  }

  /** reserveBatch's transaction; each reserved order's charge job continues its reserve span's trace. */
  private async reserveInTransaction(
    jobOf: Map<string, JobMeta & { orderId: string }>,
    spans: Map<string, ReturnType<typeof openSpan>>,
    expiresAt: Date,
  ) {
    return this.db.transaction(async (transaction) => {
      const rows = await linesForReserveBatch.rows(this.db, [[...jobOf.keys()]], transaction);
      const orders = new Map<string, OrderToReserve>();
      for (const row of rows) {
        const order = orders.get(row.orderId) ?? { orderId: row.orderId, lines: [] };
        order.lines.push({ productId: row.productId, sku: row.sku, quantity: row.quantity });
        orders.set(row.orderId, order);
      }
      const results = await reserveStockBatch(this.db, [...orders.values()], expiresAt, transaction);

      const changes: OrderTransition[] = [];
      const outcomes = new Map<string, 'reserved' | 'out_of_stock'>();
      const lowStock: Array<{ orderId: string; line: ReservedLine }> = [];
      for (const [orderId, result] of results) {
        const jobId = jobOf.get(orderId)?.jobId;
        if (result.ok) {
          const low = result.lines.filter((l) => fellToLowStock(l.availableBefore, l.availableAfter, l.lowStockThreshold));
          lowStock.push(...low.map((line) => ({ orderId, line })));
          changes.push({ orderId, from: 'pending', to: 'reserved', entries: reservedStory(result.lines, low, expiresAt, jobId) });
          outcomes.set(orderId, 'reserved');
        } else {
          changes.push({ orderId, from: 'pending', to: 'failed', reason: 'OUT_OF_STOCK', entries: outOfStockStory(result.shortages, jobId) });
          outcomes.set(orderId, 'out_of_stock');
        }
      }
      const changed = await transitionOrders(this.db, changes, transaction);
      // The orders are locked and pending since the first statement: a change that missed is a bug.
      if (changed.size !== changes.length) throw new Error(`reserve batch: ${changes.length - changed.size} of ${changes.length} orders changed under their locks`);
      const reserved = [...outcomes].filter(([, o]) => o === 'reserved').map(([orderId]) => ({
        orderId, requestId: jobOf.get(orderId)?.requestId, traceparent: traceparentOf(spans.get(orderId)!),
      }));
      await this.ctx.queue.sendMany(QUEUES.ORDER_CHARGE, reserved, { transaction });
      await publishEvents(this.db, lowStock.map(({ orderId, line }) => ({
        type: 'inventory.low_stock' as const,
        data: { sku: line.sku, available: line.availableAfter, lowStockThreshold: line.lowStockThreshold, cause: 'order', orderId },
      })), transaction);
      if (lowStock.length) transaction.afterCommit(() => metrics.lowStockEvents.inc(lowStock.length));
      return { outcomes, lowStock };
    });
  }

  /**
   * Step 2: one charge attempt. A lease on the order keeps cancel and the expiry sweeper away
   * while the provider call is in flight. Transient failures throw RetryableStepError so
   * pg-boss retries with backoff; the last attempt, or a decline, releases the stock.
   */
  async charge(orderId: string, meta: JobMeta): Promise<StepOutcome> {
    const { payments: settings } = this.ctx.config;
    const log = this.ctx.logger.child({ orderId, jobId: meta.jobId, requestId: meta.requestId, step: 'charge' });

    // While the provider's circuit is open no call can be made: the charge waits, its attempts unspent.
    const admission = this.ctx.payments.circuit?.admission() ?? 'call';
    if (!admission) {
      annotate({ 'payment.outcome': 'deferred' });
      await this.deferCharge(orderId, meta);
      return 'deferred';
    }

    // Take the lease, count the attempt and log it: one statement for the attempts fetched together, no transaction.
    const claimed = await this.claim({ orderId, jobId: meta.jobId ?? null });

    if (!claimed) {
      const order = await this.chargeDbSteps(() => Order.findByPk(orderId, { attributes: ['status'] }));
      if (order?.status === 'reserved') {
        // Another delivery of this job holds the lease; come back after it.
        throw new RetryableStepError('PAYMENT_IN_PROGRESS', 'another charge attempt for this order is in flight');
      }
      log.debug({ status: order?.status }, 'charge skipped: order is no longer reserved');
      annotate({ 'payment.outcome': 'skipped' });
      return 'skipped';
    }

    const { attempt, currency } = claimed;
    annotate({ 'payment.attempt': attempt, 'payment.max_attempts': settings.maxAttempts });
    const amountCents = Number(claimed.totalCents);
    const started = Date.now();
    try {
      const { chargeId } = await this.ctx.payments.charge({ orderId, amountCents, currency, idempotencyKey: paymentIdempotencyKey(orderId) });
      const durationMs = Date.now() - started;
      annotate({ 'payment.outcome': 'succeeded', 'payment.charge_id': chargeId });
      // A charge that landed after its order closed is logged (and refunded) by completePaidMany.
      const completed = await inSpan('order.complete', { attributes: { order_id: orderId } }, async (span) => {
        const done = await this.completePaid({ orderId, attempt, amountCents, currency, chargeId, durationMs, meta });
        span.setAttribute('order.outcome', done ? 'completed' : 'closed_before_charge');
        return done;
      });
      if (completed) log.info({ attempt, chargeId }, 'payment succeeded, order completed');
      return 'done';
    } catch (error) {
      const durationMs = Date.now() - started;
      if (error instanceof ProviderCircuitOpenError) {
        // The circuit opened between the claim and the call: nothing reached the provider.
        annotate({ 'payment.outcome': 'deferred' });
        await this.giveBackAndDefer(orderId, attempt, meta, `attempt ${attempt} was not made: the payment provider is unavailable`);
        return 'deferred';
      }
      // The technical detail goes to this log line and the admin-only column; clients get the code and its plain message.
      if (error instanceof PaymentDeclinedError) {
        annotate({ 'payment.outcome': 'declined', 'payment.failure_code': error.code });
        await this.chargeDbSteps(() => this.recordFailedAttempt(
          { orderId, attempt, amountCents, currency, durationMs, outcome: 'declined', chargeId: null, code: error.code, detail: error.detail },
          meta,
          'PAYMENT_DECLINED',
        ));
        log.info({ attempt, code: error.code, detail: error.detail }, 'payment declined, order failed');
        return 'done';
      }
      const failure = asPaymentError(error);
      annotate({ 'payment.outcome': admission === 'probe' ? 'probe_failed' : 'failed', 'payment.failure_code': failure.code });
      if (admission === 'probe') {
        // This call probed the half-open circuit for everyone; its failure says the outage goes on, not that this order's payment failed.
        log.info({ attempt, code: failure.code, detail: failure.detail }, 'circuit probe failed: the attempt is given back and the charge waits');
        await this.giveBackAndDefer(orderId, attempt, meta, `attempt ${attempt} probed the payment provider, which is still unavailable (${failure.code}); it does not count`);
        return 'deferred';
      }
      const last = attempt >= settings.maxAttempts;
      const failed = { orderId, attempt, amountCents, currency, durationMs, outcome: 'failed' as const, chargeId: null, code: failure.code, detail: failure.detail };
      if (last) await this.chargeDbSteps(() => this.recordFailedAttempt(failed, meta, 'PAYMENT_RETRIES_EXHAUSTED'));
      else await this.recordRetryable({ ...failed, meta });
      if (last) {
        log.warn({ attempt, code: failure.code, detail: failure.detail }, 'payment failed on the last attempt, order failed');
        return 'done';
      }
      log.info({ attempt, code: failure.code, detail: failure.detail }, 'payment attempt failed, will retry');
      // pg-boss keeps this message as the job's output (admins read it on the dashboard).
      throw new RetryableStepError(failure.code, failure.message);
    }
  }

  /**
   * Puts a charge off while the provider's circuit is open (deferral.ts); no attempt is spent. The
   * order's story says so once, on the first deferral, unless the caller already wrote why.
   */
  private async deferCharge(orderId: string, meta: JobMeta, options: { logged?: boolean } = {}): Promise<void> {
    if (!meta.deferrals && !options.logged) {
      await this.chargeDbSteps(() => appendOrderLogs(this.db, orderId, [{
        event: 'PAYMENT_DEFERRED',
        message: 'The payment provider is unavailable: the charge waits until it answers again, without spending an attempt',
        details: { circuit: 'open' },
        jobId: meta.jobId,
      }]));
    }
    await deferWhileCircuitOpen(this.ctx, QUEUES.ORDER_CHARGE, orderId, meta);
  }

  /** An attempt claimed for a call that did not count (never made, or a failed probe): given back, and the charge waits. */
  private async giveBackAndDefer(orderId: string, attempt: number, meta: JobMeta, why: string): Promise<void> {
    await this.chargeDbSteps(() => this.giveBackAttempt(orderId, attempt, meta, why));
    await this.deferCharge(orderId, meta, { logged: true });
  }

  /**
   * Gives back an attempt that does not count (never made, or a failed probe of the half-open
   * circuit): its count and its lease, with a PAYMENT_DEFERRED row saying why, since its
   * PAYMENT_ATTEMPT row is already in the story.
   */
  private async giveBackAttempt(orderId: string, attempt: number, meta: JobMeta, why: string): Promise<void> {
    await this.db.transaction(async (transaction) => {
      const [given] = await Order.update(
        { paymentAttempts: attempt - 1, paymentLeaseUntil: null },
        { where: { id: orderId, status: 'reserved', paymentAttempts: attempt }, silent: true, transaction },
      );
      if (!given) return;
      await appendOrderLogs(this.db, orderId, [{
        event: 'PAYMENT_DEFERRED',
        attempt,
        message: `The charge waits until the payment provider answers again: ${why}`,
        details: { circuit: 'open', attemptGivenBack: attempt },
        jobId: meta.jobId,
      }], transaction);
    });
  }

  /**
   * Takes the payment lease of each order that is reserved and free, in one statement. A second
   * delivery of the same order in the group gets null, as if another attempt held the lease.
   */
  private async claimMany(requests: ReadonlyArray<{ orderId: string; jobId: string | null }>): Promise<Array<ClaimRow | null>> {
    const { timeoutMs, maxAttempts } = this.ctx.config.payments;
    const first = new Map<string, number>();
    requests.forEach((r, i) => first.has(r.orderId) || first.set(r.orderId, i));
    const claims = [...first].map(([orderId, i]) => ({ order_id: orderId, job_id: requests[i].jobId }));
    const rows = await claimCharges.rows(this.db, [JSON.stringify(claims), PAYMENT_LEASE.seconds(timeoutMs), maxAttempts]);
    const byOrder = new Map(rows.map((r) => [r.orderId, r]));
    return requests.map((r, i) => (first.get(r.orderId) === i ? byOrder.get(r.orderId) ?? null : null));
  }

  /**
   * Records successful charges, commits their stock and completes their orders: the charges that
   * succeed within a few milliseconds of each other share one transaction (the `completions`
   * loader), so a hot product's row is locked once per group, not once per order. An order the
   * lease no longer protected (a cancel or the sweeper closed it mid-call) is left closed, and
   * its charge is refunded: the refund is requested and its job sent in the same transaction.
   * Returns the orders whose charge landed late.
   */
  private async completePaidMany(paid: PaidCharge[]): Promise<Set<string>> {
    const orderIds = paid.map((p) => p.orderId);
    const needRefund = await this.db.transaction(async (transaction) => {
      await recordPaymentAttempts(this.db, paid.map(({ meta: _meta, ...p }) => ({ ...p, outcome: 'succeeded' as const })), transaction);
      // Only an order that is still reserved has active reservations to commit.
      const committed = await commitStockOf(this.db, orderIds, transaction);
      const completed = await transitionOrders(this.db, paid.map((p) => ({
        orderId: p.orderId,
        from: 'reserved',
        to: 'completed',
        entries: paidStory(p, committed.get(p.orderId) ?? []),
      })), transaction);
      const closed = paid.filter((p) => !completed.has(p.orderId));
      for (const p of closed) {
        if (committed.get(p.orderId)?.length) throw new Error(`order ${p.orderId} had active reservations but was not reserved`);
        await requestLateChargeRefund(this.db, {
          orderId: p.orderId, attempt: p.attempt, chargeId: p.chargeId, amountCents: p.amountCents, currency: p.currency, jobId: p.meta.jobId,
        }, transaction);
      }
      await this.ctx.queue.sendMany(QUEUES.ORDER_REFUND, closed.map((p) => ({ orderId: p.orderId, requestId: p.meta.requestId, traceparent: p.meta.traceparent })), { transaction });
      return closed;
    });
    for (const p of needRefund) {
      this.ctx.logger.warn({ orderId: p.orderId, jobId: p.meta.jobId, requestId: p.meta.requestId, chargeId: p.chargeId }, 'charge succeeded after the order was closed: refund requested');
    }
    if (needRefund.length) this.ctx.queue.notify(QUEUES.ORDER_REFUND);
    return new Set(needRefund.map((p) => p.orderId));
  }

  /**
   * Records an attempt that failed for good (a decline, or the last attempt), releases the stock and
   * fails the order. Its log row carries the reason code and plain message only: customers read "Order_Logs".
   */
  private async recordFailedAttempt(
    p: PaymentAttempt & { outcome: 'failed' | 'declined'; code: PaymentFailureCode; detail: PaymentErrorDetail },
    meta: JobMeta,
    finalReason: FailureReason,
  ): Promise<void> {
    const { maxAttempts } = this.ctx.config.payments;
    await this.db.transaction(async (transaction) => {
      await recordPaymentAttempt(this.db, p, transaction);
      await appendOrderLogs(this.db, p.orderId, [paymentFailedEntry({ ...p, maxAttempts, final: true, jobId: meta.jobId })], transaction);
      // This attempt holds the lease itself.
      await this.failReserved(p.orderId, finalReason, meta, { transaction, ignoreLease: true });
    });
  }

  /**
   * Records attempts that failed and will be tried again, for the failures that come within a few
   * milliseconds of each other in one transaction of two statements: each attempt, its
   * PAYMENT_FAILED row, and its order's lease freed for the retry.
   */
  private async recordRetryableFailures(failures: RetryableFailure[]): Promise<void> {
    const { maxAttempts } = this.ctx.config.payments;
    await this.db.transaction(async (transaction) => {
      await recordPaymentAttempts(this.db, failures.map(({ meta: _meta, ...p }) => p), transaction);
      await freeLeasesAndLog(this.db, failures.map((p) => ({
        orderId: p.orderId,
        entries: [paymentFailedEntry({ ...p, maxAttempts, final: false, jobId: p.meta.jobId })],
      })), transaction);
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
    return inSpan('order.release', { attributes: { order_id: orderId, 'order.failure_reason': reason } }, async (span) => {
      const closed = await this.releaseAndFail(orderId, reason, meta, options);
      span.setAttribute('order.outcome', closed ? 'failed' : 'unchanged');
      return closed;
    });
  }

  private async releaseAndFail(orderId: string, reason: FailureReason, meta: JobMeta, options: { transaction?: Transaction; ignoreLease?: boolean }): Promise<boolean> {
    const outcome = await releaseAndClose(
      this.db,
      orderId,
      {
        from: ['reserved'],
        to: 'failed',
        reason,
        respectLease: !options.ignoreLease,
        story: failStory(reason, meta.jobId),
        // A decline is the provider's final word; any other failure after an attempt may hide a charge.
        afterClose: reason === 'PAYMENT_DECLINED' ? undefined : checkForLateChargeAfterClose(this.ctx, meta),
      },
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
    const chargeJobId = await this.ctx.queue.send(QUEUES.ORDER_CHARGE, { orderId, requestId: meta.requestId, traceparent: meta.traceparent });
    this.ctx.logger.warn({ orderId, jobId: meta.jobId, chargeJobId, chargeId: charge.chargeId, requestId: meta.requestId }, 'the provider holds a charge for this order: one more attempt collects it');
    return true;
  }

  /** Fails orders whose reservation expired (their charge job was lost or stuck); one batch per call. */
  async sweepExpired(meta: JobMeta): Promise<number> {
    const candidates = await sweepCandidates.rows(this.db, [this.ctx.config.orders.sweeperBatchSize]);
    let failed = 0;
    for (const { orderId, traceparent } of candidates) {
      // The sweeper's action on an order is a span of that order's trace.
      const expired = await inSpan('order.expire', { parent: traceparent, attributes: { order_id: orderId, ...(meta.jobId ? { 'job.id': meta.jobId } : {}) } }, async (span) => {
        const orderMeta = { ...meta, traceparent: traceparent ?? undefined };
        try {
          if (await this.collectLostCharge(orderId, orderMeta)) {
            span.setAttribute('order.outcome', 'charge_collected');
            return false;
          }
        } catch (error) {
          // The customer may have paid; fail the order only once the provider can say it did not.
          this.ctx.logger.warn({ orderId, jobId: meta.jobId, err: error }, 'reservation expired but the provider cannot be asked about a charge; trying again next sweep');
          span.setAttribute('order.outcome', 'provider_unreachable');
          return false;
        }
        if (!(await this.failReserved(orderId, 'RESERVATION_EXPIRED', orderMeta))) return false;
        this.ctx.logger.warn({ orderId, jobId: meta.jobId }, 'reservation expired: stock released, order failed');
        return true;
      });
      if (expired) failed += 1;
    }
    return failed;
  }
}
