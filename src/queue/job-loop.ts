import type PgBoss from 'pg-boss';
import type { Logger } from '../shared/logger';

export type JobHandler<J> = (job: J) => Promise<void>;
export type BatchHandler<J> = (jobs: J[]) => Promise<void>;

/** Each job on its own (a slot per job), or each fetched batch as a whole (a slot per batch). */
export type LoopHandler<J> = { each: JobHandler<J> } | { batch: BatchHandler<J> };

export interface JobLoopSettings {
  /** Jobs (or, for a batch handler, batches) in flight at once; a new fetch asks only for free slots. */
  concurrency: number;
  /** Most jobs asked for in one fetch. */
  batchSize: number;
  /** Pause after a fetch that found fewer jobs than it asked for. */
  pollMs: number;
  /** Pauses grow up to this while fetches keep finding nothing, so an idle service costs little. */
  idleMaxMs: number;
}

/** What the queue keeps of a loop to wake and stop it. */
export interface RunningLoop {
  readonly queue: string;
  wake(): void;
  stop(): void;
  readonly done: Promise<void>;
}

/** Completions (and failures with the same error) are gathered this long and sent as one complete() (fail()) call. */
const COMPLETE_FLUSH_MS = 10;

/**
 * A wake-up ends a pause no sooner than this after the previous fetch began: under a steady
 * trickle of sends, jobs gather into batches instead of one fetch (and, for a batch handler, one
 * transaction) per job, which starved the other queues of pg-boss's connections.
 */
const MIN_FETCH_GAP_MS = 50;

/**
 * One queue's job loop over pg-boss's public fetch/complete/fail: keeps up to `concurrency` jobs in
 * flight, each handled on its own (a job waiting on the network holds a slot, not the loop), and
 * fetches again as soon as enough slots are free. A job that throws is failed with its own error;
 * jobs that finish close together share one complete() call, and those that fail with the same error one fail() call. A batch
 * handler gets each fetch whole (set-based work: one transaction for many jobs) and succeeds or
 * fails with all of its jobs.
 *
 * Ours and not pg-boss's work(): pg-boss 10's work() has no concurrency option (a batch is handled
 * as a whole, and the next fetch waits for all of it), and it calls complete()/fail() without
 * awaiting them, so an unreachable database at that moment is an unhandled rejection that kills the
 * process. Here a failed complete/fail is logged and the jobs, still active, come back when they expire.
 */
export class JobLoop<J extends PgBoss.Job<unknown>> implements RunningLoop {
  private stopping = false;
  private woken = false;
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private endPause: (() => void) | null = null;
  private slotFreed: (() => void) | null = null;
  private completed: string[] = [];
  /** Jobs to fail, by the output their error gives. */
  private failed = new Map<string, string[]>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Resolves when the loop has ended, its jobs in flight and their completions included. */
  readonly done: Promise<void>;

  constructor(
    private readonly boss: PgBoss,
    readonly queue: string,
    private readonly handler: LoopHandler<J>,
    private readonly settings: JobLoopSettings,
    private readonly logger: Logger,
  ) {
    this.done = this.run();
  }

  /** Ends the current pause at once (a job was sent by this process). */
  wake(): void {
    this.woken = true;
    this.endPause?.();
  }

  stop(): void {
    this.stopping = true;
    this.endPause?.();
    this.slotFreed?.();
  }

  /** Waits `ms`; wake() (unless not `wakeable`) and stop() end the wait early. */
  private pause(ms: number, { wakeable = true } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.endPause = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.endPause = wakeable ? finish : () => this.stopping && finish();
    });
  }

  private waitForSlot(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.slotFreed = () => {
        this.slotFreed = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const { concurrency, batchSize, pollMs, idleMaxMs } = this.settings;
    const batches = 'batch' in this.handler;
    // Refill once a quarter of the slots (or a batch) is free: fewer, fuller fetches under load.
    const refillAt = batches ? 1 : Math.max(1, Math.min(batchSize, Math.ceil(concurrency / 4)));
    let idleMs = pollMs;
    while (!this.stopping) {
      const free = concurrency - this.inFlight;
      if (this.inFlight > 0 && free < refillAt) {
        await this.waitForSlot();
        continue;
      }
      const wanted = batches ? batchSize : Math.min(batchSize, free);
      this.woken = false;
      const fetchedAt = Date.now();
      let jobs: J[] = [];
      let fetchFailed = false;
      try {
        jobs = ((await this.boss.fetch(this.queue, { batchSize: wanted, includeMetadata: true })) ?? []) as unknown as J[];
      } catch (error) {
        fetchFailed = true;
        this.logger.warn({ err: error, queue: this.queue }, 'could not fetch jobs');
      }
      if (batches) {
        if (jobs.length) this.start(jobs);
      } else for (const job of jobs) this.start([job]);
      if (jobs.length === wanted) {
        idleMs = pollMs;
        continue;
      }
      idleMs = jobs.length || fetchFailed ? pollMs : Math.min(idleMs * 2, idleMaxMs);
      if (!this.woken && !this.stopping) await this.pause(idleMs);
      const sinceFetch = Date.now() - fetchedAt;
      if (!this.stopping && sinceFetch < MIN_FETCH_GAP_MS) await this.pause(MIN_FETCH_GAP_MS - sinceFetch, { wakeable: false });
    }
    await Promise.all(this.running);
    await this.flush();
  }

  private start(jobs: J[]): void {
    this.inFlight += 1;
    const running = this.handle(jobs).finally(() => {
      this.inFlight -= 1;
      this.running.delete(running);
      this.slotFreed?.();
    });
    this.running.add(running);
  }

  private async handle(jobs: J[]): Promise<void> {
    try {
      if ('batch' in this.handler) await this.handler.batch(jobs);
      else await this.handler.each(jobs[0]);
    } catch (error) {
      const e = error as Error;
      // Failures with the same output share a fail() call (pg-boss stores the output with each job).
      const output = JSON.stringify({ message: e?.message ?? String(error), name: e?.name });
      const ids = this.failed.get(output) ?? [];
      ids.push(...jobs.map((job) => job.id));
      this.failed.set(output, ids);
      this.flushTimer ??= setTimeout(() => void this.flush(), COMPLETE_FLUSH_MS);
      return;
    }
    this.completed.push(...jobs.map((job) => job.id));
    this.flushTimer ??= setTimeout(() => void this.flush(), COMPLETE_FLUSH_MS);
  }

  private flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const ids = this.completed;
    const failed = this.failed;
    this.completed = [];
    this.failed = new Map();
    if (!ids.length && !failed.size) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      if (ids.length) {
        await this.boss.complete(this.queue, ids).catch((error: unknown) =>
          this.logger.warn({ err: error, queue: this.queue, jobs: ids.length }, `could not mark ${ids.length} job(s) completed; they stay active and come back when they expire`));
      }
      for (const [output, failedIds] of failed) {
        await this.boss.fail(this.queue, failedIds, JSON.parse(output) as object).catch((error: unknown) =>
          this.logger.warn({ err: error, queue: this.queue, jobs: failedIds.length }, `could not mark ${failedIds.length} job(s) failed; they stay active and come back when they expire`));
      }
    });
    return this.flushing;
  }
}
