import cron, { type ScheduledTask, type TaskContext } from 'node-cron';
import type { AppContext } from '../../context';
import { QUEUES } from '../../queue/queues';
import { SYNC_SINGLETON_KEY } from './service';
import { SyncRunner } from './sync';

/**
 * The pg-boss throttle slot for cron ticks: the shortest gap between upcoming ticks (so two
 * ticks never share a slot), at least 1 s, at most an hour (pg-boss caps it at its archive interval).
 */
export function tickSlotSeconds(nextRuns: Date[]): number {
  let gapMs = Number.POSITIVE_INFINITY;
  for (let i = 1; i < nextRuns.length; i += 1) gapMs = Math.min(gapMs, nextRuns[i].getTime() - nextRuns[i - 1].getTime());
  if (!Number.isFinite(gapMs)) return 3600;
  return Math.min(3600, Math.max(1, Math.floor(gapMs / 1000)));
}

/** The tick a cron callback fired for, to the second, as ISO text: the same in every process. */
export function tickOf(context: Pick<TaskContext, 'date'> | undefined): string {
  const at = context?.date instanceof Date ? context.date.getTime() : Date.now();
  return new Date(Math.floor(at / 1000) * 1000).toISOString();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Registers the inventory sync worker and its cron tick; returns what stops them.
 *
 * Every worker process ticks. Each tick sends one job with the shared singleton key and a
 * throttle slot (singletonSeconds) as long as the shortest gap between ticks: pg-boss keeps one
 * job per slot and key in any state, so N processes make one job per tick, and the 'stately'
 * queue keeps one queued and one active sync at a time, so syncs never overlap. Sends wait a
 * quarter slot (at most 1 s) after the tick so that a process clock slightly ahead of the
 * database's still lands in the tick's slot. The worker also refuses a second run for a tick
 * that already has one (unique index on tick and attempt), should a duplicate ever get through.
 */
export async function registerInventoryJobs(ctx: AppContext): Promise<() => Promise<void>> {
  const sync = new SyncRunner(ctx);
  const log = ctx.logger.child({ module: 'inventory-sync' });
  let current: { controller: AbortController; done: Promise<unknown> } | null = null;
  let stopped = false;

  // One sync at a time per process; a thrown error fails the job, and pg-boss retries it per the queue policy.
  await ctx.queue.work(
    QUEUES.INVENTORY_SYNC,
    async (job) => {
      const controller = new AbortController();
      const running = sync.run(
        { trigger: job.data.trigger, tick: job.data.tick ?? null, jobId: job.id, attempt: (job.retryCount ?? 0) + 1 },
        controller.signal,
      );
      current = { controller, done: running.catch(() => undefined) };
      try {
        await running;
      } finally {
        current = null;
      }
    },
    { span: 'inventory.sync', concurrency: 1 },
  );

  let task: ScheduledTask | null = null;
  if (!ctx.warehouseUrl) {
    log.warn('no warehouse URL: the inventory sync cron is off in this process (jobs queued elsewhere still run and fail)');
  } else {
    const expression = ctx.config.inventory.syncCron;
    let slotSeconds = 1;
    task = cron.schedule(
      expression,
      async (context: TaskContext) => {
        const tick = tickOf(context);
        try {
          await sleep(Math.min(1000, slotSeconds * 250));
          if (stopped) return;
          const jobId = await ctx.queue.trySend(
            QUEUES.INVENTORY_SYNC,
            { trigger: 'cron', tick },
            { singletonKey: SYNC_SINGLETON_KEY, singletonSeconds: slotSeconds },
          );
          if (jobId) {
            log.info({ jobId, tick }, 'inventory sync queued for this tick');
            ctx.queue.notify(QUEUES.INVENTORY_SYNC);
          } else {
            log.debug({ tick }, 'inventory sync for this tick already queued (another process, or a sync is waiting)');
          }
        } catch (error) {
          log.warn({ err: error, tick }, 'could not enqueue the inventory sync for this tick');
        }
      },
      { name: 'inventory-sync' },
    );
    slotSeconds = tickSlotSeconds(task.getNextRuns(24));
    log.info({ cron: expression, slotSeconds, nextRun: task.getNextRun()?.toISOString() }, `inventory sync scheduled: ${expression}`);
  }

  return async () => {
    stopped = true;
    if (task) {
      await task.stop();
      await task.destroy();
    }
    // A run in flight stops between pages (or mid-request) and is recorded failed; pg-boss retries it later.
    const running = current as { controller: AbortController; done: Promise<unknown> } | null;
    if (running) {
      running.controller.abort();
      await running.done;
    }
  };
}
