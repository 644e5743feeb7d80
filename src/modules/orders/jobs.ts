import cron from 'node-cron';
import type { AppContext } from '../../context';
import { BatchFailure, type JobOf } from '../../queue/job-queue';
import { QUEUES, type QueueName } from '../../queue/queues';
import { OrderFlow, RetryableStepError } from './flow';

/** Runs `fn` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

/**
 * Runs the jobs of one batch concurrently (WORKER_JOB_CONCURRENCY at a time, so the workers
 * cannot take every pool connection from the API), each on its own. Successful jobs are completed
 * here; if any failed, the handler throws and the queue fails the batch, which touches only
 * the jobs still active (a completed job is left alone), so each failure is retried on its own.
 */
function perJob<Q extends QueueName>(ctx: AppContext, queue: Q, handle: (job: JobOf<Q>) => Promise<unknown>) {
  return async (jobs: JobOf<Q>[]) => {
    const failures: Array<{ jobId: string; error: Error }> = [];
    const succeeded: string[] = [];
    await forEachLimited(jobs, ctx.config.queue.jobConcurrency, async (job) => {
      try {
        await handle(job);
        succeeded.push(job.id);
      } catch (error) {
        const data = job.data as { orderId?: string; requestId?: string };
        const expected = error instanceof RetryableStepError;
        ctx.logger[expected ? 'debug' : 'error'](
          { err: expected ? undefined : error, orderId: data.orderId, requestId: data.requestId, jobId: job.id, queue },
          `job failed: ${(error as Error).message}`,
        );
        failures.push({ jobId: job.id, error: error as Error });
      }
    });
    if (!failures.length) return;
    await ctx.queue.complete(queue, succeeded);
    throw new BatchFailure(failures);
  };
}

/** Registers the order-flow workers and the expiry sweeper's cron tick; returns what stops them. */
export async function registerOrderJobs(ctx: AppContext): Promise<() => Promise<void>> {
  const flow = new OrderFlow(ctx);

  await ctx.queue.work(QUEUES.ORDER_RESERVE, perJob(ctx, QUEUES.ORDER_RESERVE, (job) =>
    flow.reserve(job.data.orderId, { jobId: job.id, requestId: job.data.requestId })));

  await ctx.queue.work(QUEUES.ORDER_CHARGE, perJob(ctx, QUEUES.ORDER_CHARGE, (job) =>
    flow.charge(job.data.orderId, { jobId: job.id, requestId: job.data.requestId })));

  // A charge job that failed for good (or expired on its last try) still holds stock: release it,
  // unless the provider holds a charge for the order (its worker died after the provider charged).
  await ctx.queue.work(QUEUES.ORDER_CHARGE_DEAD, perJob(ctx, QUEUES.ORDER_CHARGE_DEAD, async (job) => {
    if (await flow.collectLostCharge(job.data.orderId, { jobId: job.id, requestId: job.data.requestId })) return;
    const failed = await flow.failReserved(job.data.orderId, 'PAYMENT_RETRIES_EXHAUSTED', { jobId: job.id, requestId: job.data.requestId });
    if (failed) ctx.logger.warn({ orderId: job.data.orderId, jobId: job.id, requestId: job.data.requestId }, 'charge job dead-lettered: stock released, order failed');
  }), { workers: 1 });

  await ctx.queue.work(QUEUES.RESERVATION_SWEEP, perJob(ctx, QUEUES.RESERVATION_SWEEP, async (job) => {
    const failed = await flow.sweepExpired({ jobId: job.id });
    if (failed) ctx.logger.info({ jobId: job.id, failed }, 'expiry sweep released abandoned reservations');
  }), { workers: 1, batchSize: 1, pollingIntervalSeconds: 2 });

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
