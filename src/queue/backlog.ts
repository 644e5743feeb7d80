import type { Logger } from '../shared/logger';
import type { QueueInspector } from './inspect';

const SAMPLE_MS = 1_000;

/**
 * How long the oldest ready job of each watched queue has waited for a worker, sampled once a
 * second (one small query), so intake can refuse work it could not finish in time without asking
 * the database on every request. Sampling starts with the first read, so a process that takes no
 * orders and serves no metrics (a worker thread) never samples. Unknown (not yet sampled, or the
 * last sample failed) reads as no backlog: a database that cannot be read fails intake on its own.
 */
export class BacklogWatch {
  private ages = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private sampling: Promise<void> | null = null;

  constructor(
    private readonly inspector: QueueInspector,
    readonly queues: readonly string[],
    private readonly logger: Logger,
  ) {}

  private start(): void {
    if (this.timer || this.stopped) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sampling;
  }

  /** Seconds the longest-waiting ready job of the watched queues has waited; 0 when none. */
  oldestAgeSeconds(): number {
    this.start();
    return Math.max(0, ...this.ages.values());
  }

  /** Every watched queue with its age in seconds (0 when nothing waits). */
  ageByQueue(): Array<{ queue: string; ageSeconds: number }> {
    this.start();
    return this.queues.map((queue) => ({ queue, ageSeconds: this.ages.get(queue) ?? 0 }));
  }

  private sample(): Promise<void> {
    // One sample at a time: a slow database must not pile them up.
    this.sampling ??= this.inspector
      .readyBacklogAges(this.queues)
      .then((rows) => {
        this.ages = new Map(rows.map((r) => [r.queue, Math.max(0, Number(r.ageSeconds))]));
      })
      .catch((error: unknown) => {
        this.ages = new Map();
        this.logger.warn({ err: error }, 'could not read the job backlog');
      })
      .finally(() => {
        this.sampling = null;
      });
    return this.sampling;
  }
}
