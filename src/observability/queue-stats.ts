import type { AppContext } from '../context';
import type { QueueInspector } from '../queue/inspect';
import { QUEUES } from '../queue/queues';

/** pg-boss 10's job states, in the order a job passes through them. */
export const JOB_STATES = Object.freeze(['created', 'retry', 'active', 'completed', 'failed', 'cancelled'] as const);
export type JobState = (typeof JOB_STATES)[number];

export interface QueueJobCount {
  queue: string;
  state: string;
  count: number;
}

/** A query that does not answer within this is abandoned (a scrape must not hang on a stuck database). */
const QUERY_TIMEOUT_MS = 2_000;

/**
 * Job counts per queue and state, read through the queue's inspector with one GROUP BY and kept for
 * `ttlMs`, so a Prometheus scrape and a dashboard refreshing every 2 s cost one query between them.
 * Every known queue (dead-letter included) and state is present, with 0 when it has no jobs.
 */
export class QueueStats {
  private cached: { at: number; counts: Promise<QueueJobCount[]> } | null = null;

  constructor(
    private readonly inspector: QueueInspector,
    private readonly ttlMs = 1_500,
  ) {}

  counts(): Promise<QueueJobCount[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.counts;
    const counts = this.read();
    const entry = { at: now, counts };
    this.cached = entry;
    // A failure is not cached: the next caller asks the database again.
    counts.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return counts;
  }

  private async read(): Promise<QueueJobCount[]> {
    let timer: NodeJS.Timeout | undefined;
    const rows = await Promise.race([
      this.inspector.countsByQueueAndState(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`pg-boss job counts: no answer within ${QUERY_TIMEOUT_MS} ms`)), QUERY_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));

    const byKey = new Map<string, QueueJobCount>();
    const queues = new Set<string>([...Object.values(QUEUES), ...rows.map((r) => r.queue)]);
    for (const queue of [...queues].sort()) {
      for (const state of JOB_STATES) byKey.set(`${queue}\u0000${state}`, { queue, state, count: 0 });
    }
    for (const row of rows) {
      const key = `${row.queue}\u0000${row.state}`;
      const entry = byKey.get(key) ?? { queue: row.queue, state: row.state, count: 0 };
      entry.count = row.count;
      byKey.set(key, entry);
    }
    return [...byKey.values()];
  }
}

const perContext = new WeakMap<AppContext, QueueStats>();

/** The one QueueStats of a service (shared by /metrics, the metrics port and the admin API). */
export function queueStatsOf(ctx: AppContext): QueueStats {
  let stats = perContext.get(ctx);
  if (!stats) {
    stats = new QueueStats(ctx.queue.inspect);
    perContext.set(ctx, stats);
  }
  return stats;
}
