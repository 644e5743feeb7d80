import cron from 'node-cron';
import type { AppContext } from '../../context';
import type { JobOf } from '../../queue/job-queue';
import { QUEUES, type QueueName } from '../../queue/queues';
import { OrderFlow, RetryableStepError, type JobMeta } from './flow';
import { RefundFlow } from './refund';

/**
 * A job handler that logs a failure with the job's order before the queue fails the job alone
 * (a retry the flow asked for is expected: debug, not error).
 */
function logged<Q extends QueueName>(ctx: AppContext, queue: Q, handle: (job: JobOf<Q>) => Promise<unknown>) {
  return async (job: JobOf<Q>): Promise<void> => {
    try {
      await handle(job);
    } catch (error) {
      const data = job.data as { orderId?: string; requestId?: string };
      const expected = error instanceof RetryableStepError;
      ctx.logger[expected ? 'debug' : 'error'](
        { err: expected ? undefined : error, orderId: data.orderId, requestId: data.requestId, jobId: job.id, queue },
        `job failed: ${(error as Error).message}`,
      );
      throw error;
    }
  };
}

/** What a step knows of the job that runs it: its id, and the request and trace it belongs to. */
const jobMeta = (job: JobOf<typeof QUEUES.ORDER_CHARGE | typeof QUEUES.ORDER_REFUND | typeof QUEUES.ORDER_CHARGE_DEAD>): JobMeta => ({
  jobId: job.id,
  requestId: job.data.requestId,
  traceparent: job.data.traceparent,
  deferrals: 'deferrals' in job.data ? job.data.deferrals : undefined,
});

/** Registers the order-flow workers and the expiry sweeper's cron tick; returns what stops them. */
export async function registerOrderJobs(ctx: AppContext): Promise<() => Promise<void>> {
  const flow = new OrderFlow(ctx);

  // Set-based: a fetch of reserve jobs is one transaction. Two batches in flight overlap one's
  // commit with the next one's fetch and locks.
  await ctx.queue.workBatches(QUEUES.ORDER_RESERVE, async (jobs) => {
    try {
      await flow.reserveBatch(jobs.map((job) => ({ orderId: job.data.orderId, jobId: job.id, requestId: job.data.requestId, traceparent: job.data.traceparent })));
    } catch (error) {
      ctx.logger.error({ err: error, jobs: jobs.length, queue: QUEUES.ORDER_RESERVE }, `reserve batch failed: ${(error as Error).message}`);
      throw error;
    }
  }, { span: 'order.reserve_batch', concurrency: 2 });

  // A charge attempt waits on the provider, holding no connection meanwhile: many fit in flight.
  await ctx.queue.work(QUEUES.ORDER_CHARGE, logged(ctx, QUEUES.ORDER_CHARGE, (job) =>
    flow.charge(job.data.orderId, jobMeta(job))), { span: 'payment.charge', concurrency: ctx.config.payments.concurrency });

  // A refund waits on the provider like a charge; refunds are rare, so a few at a time.
  const refunds = new RefundFlow(ctx);
  await ctx.queue.work(QUEUES.ORDER_REFUND, logged(ctx, QUEUES.ORDER_REFUND, (job) =>
    refunds.run(job.data.orderId, jobMeta(job))), { span: 'payment.refund', concurrency: 8 });

  // A charge job that failed for good (or expired on its last try) still holds stock: release it,
  // unless the provider holds a charge for the order (its worker died after the provider charged).
  await ctx.queue.work(QUEUES.ORDER_CHARGE_DEAD, logged(ctx, QUEUES.ORDER_CHARGE_DEAD, async (job) => {
    if (await flow.collectLostCharge(job.data.orderId, jobMeta(job))) return;
    const failed = await flow.failReserved(job.data.orderId, 'PAYMENT_RETRIES_EXHAUSTED', jobMeta(job));
    if (failed) ctx.logger.warn({ orderId: job.data.orderId, jobId: job.id, requestId: job.data.requestId }, 'charge job dead-lettered: stock released, order failed');
  }), { span: 'order.charge_dead_letter', concurrency: 1 });

  await ctx.queue.work(QUEUES.RESERVATION_SWEEP, logged(ctx, QUEUES.RESERVATION_SWEEP, async (job) => {
    const failed = await flow.sweepExpired({ jobId: job.id });
    if (failed) ctx.logger.info({ jobId: job.id, failed }, 'expiry sweep released abandoned reservations');
  }), { span: 'order.sweep', concurrency: 1, pollingIntervalSeconds: 2 });

  // Every worker process ticks; the singleton key makes the ticks of one minute one job.
  const sweeper = cron.schedule(ctx.config.orders.sweeperCron, async () => {
    try {
      await ctx.queue.trySend(QUEUES.RESERVATION_SWEEP, {}, { singletonKey: 'sweep', singletonSeconds: 50 });
    } catch (error) {
      ctx.logger.warn({ err: error }, 'could not enqueue the expiry sweep');
    }
  });

  return async () => {
    await sweeper.stop();
  };
}
