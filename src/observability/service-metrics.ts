import { Gauge, Registry } from 'prom-client';
import type { AppContext } from '../context';
import { queueStatsOf } from './queue-stats';
import { registry } from './metrics';

const perContext = new WeakMap<AppContext, Registry>();

/**
 * What GET /metrics (and the METRICS_PORT server) expose for one service: the process-wide
 * registry (process defaults, HTTP, orders, payments, inventory) plus this service's job gauge,
 * which reads pg-boss's table on each scrape (through QueueStats' 1.5 s cache).
 */
export function metricsRegistryOf(ctx: AppContext): Registry {
  const existing = perContext.get(ctx);
  if (existing) return existing;

  const own = new Registry();
  const stats = queueStatsOf(ctx);
  new Gauge({
    name: 'orderloop_queue_jobs',
    help: 'pg-boss jobs by queue and state (created, retry, active, completed, failed, cancelled), dead-letter queue included; read on scrape',
    labelNames: ['queue', 'state'] as const,
    registers: [own],
    async collect() {
      this.reset();
      try {
        for (const { queue, state, count } of await stats.counts()) this.set({ queue, state }, count);
      } catch (error) {
        // The series go missing for this scrape; the process metrics still answer.
        ctx.logger.warn({ err: error }, 'metrics: could not read pg-boss job counts');
      }
    },
  });

  const merged = Registry.merge([registry, own]);
  perContext.set(ctx, merged);
  return merged;
}
