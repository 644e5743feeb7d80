import type { AppContext } from '../../context';
import { queueStatsOf, JOB_STATES } from '../../observability/queue-stats';
import { QUEUES } from '../../queue/queues';
import { redactUrlsIn } from '../../shared/redact-url';
import { stockOverview } from '../catalog';
import { recentSyncs } from '../inventory';
import { orderStats } from '../orders';
import { circuitOverview, refundCounts } from '../payments';
import { webhookOverview } from '../events';

/**
 * Read models for the operations dashboard. The admin module owns no table: each figure comes
 * from the module that owns it (orders per minute from orders, stock from the catalog, syncs
 * from inventory) and pg-boss's jobs from the queue's inspector. Everything is a bounded query.
 */

export interface QueueDepth {
  name: string;
  deadLetter: boolean;
  counts: Record<string, number>;
}

export interface FailedJob {
  id: string;
  queue: string;
  state: string;
  orderId: string | null;
  retryCount: number;
  retryLimit: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

const DEAD_LETTER_QUEUES = new Set<string>([QUEUES.ORDER_CHARGE_DEAD]);
const iso = (value: Date | string | null) => (value ? new Date(value).toISOString() : null);

export class AdminService {
  constructor(private readonly ctx: AppContext) {}

  async overview() {
    const [queues, failedJobs, orders, syncs, payments, webhooks] = await Promise.all([
      this.queueDepths(), this.failedJobs(10), this.ordersPerMinute(), this.lastSyncs(5), this.payments(), webhookOverview(),
    ]);
    return { generatedAt: new Date().toISOString(), queues, backlog: this.backlog(), failedJobs, orders, syncs, payments, webhooks };
  }

  /** The payment provider's circuit breakers (one per worker process) and the refunds by status. */
  async payments() {
    const [circuit, refunds] = await Promise.all([circuitOverview(this.ctx.config), refundCounts()]);
    return { circuit, refunds };
  }

  /** How far behind the order workers are, and whether intake is shedding load because of it. */
  backlog() {
    const { backlog } = this.ctx.queue;
    const oldestSeconds = backlog.oldestAgeSeconds();
    const maxSeconds = this.ctx.config.orders.maxBacklogSeconds;
    return {
      oldestSeconds: Math.round(oldestSeconds * 10) / 10,
      maxSeconds,
      shedding: oldestSeconds > maxSeconds,
      queues: backlog.ageByQueue().map(({ queue, ageSeconds }) => ({ queue, ageSeconds: Math.round(ageSeconds * 10) / 10 })),
    };
  }

  async queueDepths(): Promise<QueueDepth[]> {
    const byQueue = new Map<string, QueueDepth>();
    for (const { queue, state, count } of await queueStatsOf(this.ctx).counts()) {
      const depth = byQueue.get(queue) ?? { name: queue, deadLetter: DEAD_LETTER_QUEUES.has(queue), counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])) };
      depth.counts[state] = count;
      byQueue.set(queue, depth);
    }
    // The order flow first, in the order a job passes through it; then the rest by name.
    const order: string[] = [QUEUES.ORDER_RESERVE, QUEUES.ORDER_CHARGE, QUEUES.ORDER_CHARGE_DEAD, QUEUES.ORDER_REFUND, QUEUES.RESERVATION_SWEEP, QUEUES.INVENTORY_SYNC];
    const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
    return [...byQueue.values()].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  }

  /** The newest failed jobs of any queue, and every job that reached a dead-letter queue. */
  async failedJobs(limit: number): Promise<FailedJob[]> {
    const jobs = await this.ctx.queue.inspect.failedJobs(limit, [...DEAD_LETTER_QUEUES]);
    return jobs.map((job) => ({
      id: job.id,
      queue: job.queue,
      state: job.state,
      orderId: typeof (job.data as { orderId?: unknown } | null)?.orderId === 'string' ? (job.data as { orderId: string }).orderId : null,
      retryCount: job.retryCount,
      retryLimit: job.retryLimit,
      // A job's error is the library's or the provider's text: admins may read it, but never a URL's credentials.
      error: job.error === null ? null : redactUrlsIn(job.error),
      createdAt: iso(job.createdOn)!,
      finishedAt: iso(job.completedOn),
    }));
  }

  ordersPerMinute() {
    return orderStats();
  }

  async lastSyncs(limit: number) {
    return (await recentSyncs(limit)).map((sync) => ({ ...sync, error: sync.error === null ? null : redactUrlsIn(sync.error) }));
  }

  /** Products with what is available now, low (available at or under the threshold) first. */
  stock(limit: number) {
    return stockOverview(limit);
  }
}
