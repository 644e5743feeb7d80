import { QueryTypes } from 'sequelize';
import type { AppContext } from '../../context';
import { queueStatsOf, JOB_STATES } from '../../observability/queue-stats';
import { QUEUES } from '../../queue/queues';

/**
 * Read models for the operations dashboard: what the business API does not already answer
 * (queue depths and failed jobs from pg-boss, orders per minute, stock sorted low first,
 * the last syncs with their shortfalls). Everything is a bounded query.
 */

export const OUTCOMES = Object.freeze(['completed', 'failed', 'cancelled', 'open'] as const);
export type Outcome = (typeof OUTCOMES)[number];

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

export interface MinuteBucket {
  minute: string;
  completed: number;
  failed: number;
  cancelled: number;
  open: number;
}

export interface SyncView {
  id: number;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  skusSeen: number;
  skusChanged: number;
  skusUnknown: number;
  skusMissing: number | null;
  shortfallCount: number;
  shortfalls: Array<{ sku: string; short: number; warehouse: number; reserved: number }>;
  error: string | null;
}

export interface StockRow {
  sku: string;
  name: string;
  onHand: number;
  reserved: number;
  available: number;
  lowStockThreshold: number;
  low: boolean;
}

const DEAD_LETTER_QUEUES = new Set<string>([QUEUES.ORDER_CHARGE_DEAD]);
const iso = (value: Date | string | null) => (value ? new Date(value).toISOString() : null);

export class AdminService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.sequelize;
  }

  private get schema() {
    return this.ctx.config.queue.schema;
  }

  async overview() {
    const [queues, failedJobs, orders, syncs] = await Promise.all([this.queueDepths(), this.failedJobs(10), this.ordersPerMinute(), this.lastSyncs(5)]);
    return { generatedAt: new Date().toISOString(), queues, failedJobs, orders, syncs };
  }

  async queueDepths(): Promise<QueueDepth[]> {
    const byQueue = new Map<string, QueueDepth>();
    for (const { queue, state, count } of await queueStatsOf(this.ctx).counts()) {
      const depth = byQueue.get(queue) ?? { name: queue, deadLetter: DEAD_LETTER_QUEUES.has(queue), counts: Object.fromEntries(JOB_STATES.map((s) => [s, 0])) };
      depth.counts[state] = count;
      byQueue.set(queue, depth);
    }
    // The order flow first, in the order a job passes through it; then the rest by name.
    const order: string[] = [QUEUES.ORDER_RESERVE, QUEUES.ORDER_CHARGE, QUEUES.ORDER_CHARGE_DEAD, QUEUES.RESERVATION_SWEEP, QUEUES.INVENTORY_SYNC];
    const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
    return [...byQueue.values()].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  }

  /** The newest failed jobs of any queue, and every job that reached a dead-letter queue. */
  async failedJobs(limit: number): Promise<FailedJob[]> {
    const rows = await this.db.query<{
      id: string; name: string; state: string; order_id: string | null; retry_count: number; retry_limit: number;
      error: string | null; created_on: Date; completed_on: Date | null;
    }>(
      `SELECT id, name, state::text AS state, data->>'orderId' AS order_id, retry_count, retry_limit,
              left(COALESCE(output->>'message', output::text), 300) AS error, created_on, completed_on
       FROM "${this.schema}".job
       WHERE state = 'failed' OR name = ANY($1::text[])
       ORDER BY COALESCE(completed_on, created_on) DESC
       LIMIT $2`,
      { bind: [[...DEAD_LETTER_QUEUES], limit], type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({
      id: r.id,
      queue: r.name,
      state: r.state,
      orderId: r.order_id,
      retryCount: r.retry_count,
      retryLimit: r.retry_limit,
      error: r.error,
      createdAt: iso(r.created_on)!,
      finishedAt: iso(r.completed_on),
    }));
  }

  /**
   * Orders created in each of the last 60 minutes, split by where they are now (completed,
   * failed, cancelled, or still open), plus the hour's totals. Uses the created_at index.
   */
  async ordersPerMinute() {
    const rows = await this.db.query<{ now_minute: Date; minute: Date | null; status: string | null; count: string | null }>(
      `WITH bounds AS (SELECT date_trunc('minute', now()) AS now_minute)
       SELECT b.now_minute, c.minute, c.status, c.count
       FROM bounds b
       LEFT JOIN LATERAL (
         SELECT date_trunc('minute', o.created_at) AS minute, o.status, count(*) AS count
         FROM "Orders" o
         WHERE o.created_at >= b.now_minute - interval '59 minutes'
         GROUP BY 1, 2
       ) c ON true`,
      { type: QueryTypes.SELECT },
    );
    const nowMinute = new Date(rows[0].now_minute).getTime();
    const buckets: MinuteBucket[] = [];
    const index = new Map<number, MinuteBucket>();
    for (let i = 59; i >= 0; i -= 1) {
      const at = nowMinute - i * 60_000;
      const bucket = { minute: new Date(at).toISOString(), completed: 0, failed: 0, cancelled: 0, open: 0 };
      buckets.push(bucket);
      index.set(at, bucket);
    }
    const lastHour = { created: 0, completed: 0, failed: 0, cancelled: 0, open: 0 };
    for (const row of rows) {
      if (!row.minute || !row.status) continue;
      const bucket = index.get(new Date(row.minute).getTime());
      if (!bucket) continue;
      const outcome: Outcome = row.status === 'completed' || row.status === 'failed' || row.status === 'cancelled' ? row.status : 'open';
      const count = Number(row.count);
      bucket[outcome] += count;
      lastHour[outcome] += count;
      lastHour.created += count;
    }
    const [open] = await this.db.query<{ pending: string; reserved: string }>(
      `SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'reserved') AS reserved
       FROM "Orders" WHERE status IN ('pending', 'reserved')`,
      { type: QueryTypes.SELECT },
    );
    return {
      perMinute: buckets,
      lastHour,
      inFlight: { pending: Number(open.pending), reserved: Number(open.reserved) },
    };
  }

  async lastSyncs(limit: number): Promise<SyncView[]> {
    const rows = await this.db.query<{
      id: string; trigger: string; status: string; started_at: Date; finished_at: Date | null; skus_seen: number; skus_changed: number;
      skus_unknown: number; skus_missing: number | null; shortfall_count: number; shortfalls: SyncView['shortfalls'] | null; error: string | null;
    }>(
      `SELECT id, trigger, status, started_at, finished_at, skus_seen, skus_changed, skus_unknown, skus_missing,
              jsonb_array_length(shortfalls) AS shortfall_count,
              (SELECT jsonb_agg(jsonb_build_object('sku', s->>'sku', 'short', (s->>'short')::int,
                                                   'warehouse', (s->>'warehouse')::int, 'reserved', (s->>'reserved')::int))
               FROM (SELECT s FROM jsonb_array_elements(shortfalls) AS s LIMIT 10) AS first) AS shortfalls,
              left(error, 300) AS error
       FROM "Inventory_Syncs" ORDER BY id DESC LIMIT $1`,
      { bind: [limit], type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({
      id: Number(r.id),
      trigger: r.trigger,
      status: r.status,
      startedAt: iso(r.started_at)!,
      finishedAt: iso(r.finished_at),
      skusSeen: r.skus_seen,
      skusChanged: r.skus_changed,
      skusUnknown: r.skus_unknown,
      skusMissing: r.skus_missing,
      shortfallCount: Number(r.shortfall_count),
      shortfalls: r.shortfalls ?? [],
      error: r.error,
    }));
  }

  /** Products with what is available now, low (available at or under the threshold) first. */
  async stock(limit: number): Promise<{ products: StockRow[]; total: number; low: number }> {
    const [rows, [counts]] = await Promise.all([
      this.db.query<{ sku: string; name: string; stock_on_hand: number; stock_reserved: number; low_stock_threshold: number; low: boolean }>(
        `SELECT sku, name, stock_on_hand, stock_reserved, low_stock_threshold,
                (stock_on_hand - stock_reserved) <= low_stock_threshold AS low
         FROM "Products"
         ORDER BY (stock_on_hand - stock_reserved) <= low_stock_threshold DESC, sku
         LIMIT $1`,
        { bind: [limit], type: QueryTypes.SELECT },
      ),
      this.db.query<{ total: string; low: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE stock_on_hand - stock_reserved <= low_stock_threshold) AS low FROM "Products"`,
        { type: QueryTypes.SELECT },
      ),
    ]);
    return {
      products: rows.map((r) => ({
        sku: r.sku,
        name: r.name,
        onHand: r.stock_on_hand,
        reserved: r.stock_reserved,
        available: r.stock_on_hand - r.stock_reserved,
        lowStockThreshold: r.low_stock_threshold,
        low: r.low,
      })),
      total: Number(counts.total),
      low: Number(counts.low),
    };
  }
}
