import type { AppContext } from '../../context';
import { metrics } from '../../observability/metrics';
import { QUEUES } from '../../queue/queues';
import type { JobMeta } from './flow';

/** The jobs that call the provider, and so wait while its circuit is open. */
type ProviderQueue = typeof QUEUES.ORDER_CHARGE | typeof QUEUES.ORDER_REFUND;

/**
 * Puts off a charge or refund job while the provider's circuit lets no call through: the same job
 * is sent again to start after the next probe, spread over one reset period (so the jobs put off
 * together do not all come back at once), and the caller ends this one. Nothing is spent.
 * Returns how many times this job has now been put off.
 */
export async function deferWhileCircuitOpen(ctx: AppContext, queue: ProviderQueue, orderId: string, meta: JobMeta): Promise<number> {
  const deferrals = (meta.deferrals ?? 0) + 1;
  const nextProbeAt = ctx.payments.circuit?.nextProbeAt ?? null;
  // At least a second: a half-open circuit's probe is already taken.
  const untilProbe = nextProbeAt ? Math.ceil((nextProbeAt.getTime() - Date.now()) / 1000) : 0;
  const startAfter = Math.max(1, untilProbe) + Math.floor(Math.random() * ctx.config.payments.circuit.resetSeconds);
  await ctx.queue.send(queue, { orderId, requestId: meta.requestId, traceparent: meta.traceparent, deferrals }, { startAfter });
  const call = queue === QUEUES.ORDER_CHARGE ? 'charge' : 'refund';
  metrics.providerCallsDeferred.inc({ call });
  ctx.logger.debug({ orderId, jobId: meta.jobId, requestId: meta.requestId, deferrals, startAfter, step: call }, `${call} deferred: payment provider circuit open`);
  return deferrals;
}
