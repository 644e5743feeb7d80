import { Gauge, Registry } from 'prom-client';
import type { AppContext } from '../context';
import { queueStatsOf } from './queue-stats';
import { registry } from './metrics';

const perContext = new WeakMap<AppContext, Registry>();

/**
 * What GET /metrics (and the METRICS_PORT server) expose for one service: the process-wide
 * registry (process defaults, HTTP, orders, payments, inventory) plus this service's job gauge,
 * which reads pg-boss's table on each scrape (through QueueStats' 1.5 s cache), and the order
 * queues' backlog age (sampled by the queue every second).
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

  new Gauge({
    name: 'orderloop_queue_backlog_age_seconds',
    help: 'How long the oldest ready job of each order queue has waited for a worker (sampled every second); intake sheds load past INTAKE_MAX_BACKLOG_S',
    labelNames: ['queue'] as const,
    registers: [own],
    collect() {
      for (const { queue, ageSeconds } of ctx.queue.backlog.ageByQueue()) this.set({ queue }, ageSeconds);
    },
  });
  new Gauge({
    name: 'orderloop_intake_max_backlog_seconds',
    help: 'The backlog age past which POST /orders/create answers 503 (INTAKE_MAX_BACKLOG_S)',
    registers: [own],
    collect() {
      this.set(ctx.config.orders.maxBacklogSeconds);
    },
  });

  const merged = Registry.merge([registry, own]);
  perContext.set(ctx, merged);
  return merged;
}
