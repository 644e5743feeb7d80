import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { DeliveryRetryError, WebhookSender } from './delivery';
import { EventRelay } from './relay';

/** Registers the outbox relay and the webhook delivery workers; returns what stops them. */
export async function registerEventJobs(ctx: AppContext): Promise<() => Promise<void>> {
  const relay = new EventRelay(ctx, ctx.eventHub);
  await relay.start();

  const sender = new WebhookSender(ctx);
  // A delivery waits on the receiver, holding no connection meanwhile: many fit in flight.
  await ctx.queue.work(QUEUES.WEBHOOK_DELIVER, async (job) => {
    try {
      await sender.deliver(job.data.deliveryId, { retryCount: job.retryCount ?? 0, manual: job.data.manual === true });
    } catch (error) {
      if (!(error instanceof DeliveryRetryError)) ctx.logger.error({ err: error, deliveryId: job.data.deliveryId, jobId: job.id }, `webhook job failed: ${(error as Error).message}`);
      throw error;
    }
  }, { span: 'webhook.deliver', concurrency: ctx.config.webhooks.concurrency, batchSize: 250 });

  return () => relay.stop();
}
