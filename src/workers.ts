import type { AppContext } from './context';
import { registerOrderJobs } from './modules/orders';
import { registerInventoryJobs } from './modules/inventory';
import { registerEventJobs } from './modules/events';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/**
 * Everything a process with the worker role runs: queue workers and cron ticks; WORKER_JOBS picks
 * the order flow and inventory (`orders`), the webhook relay and deliveries (`events`), or both.
 */
export async function startWorkers(ctx: AppContext): Promise<RunningWorkers> {
  const { jobs } = ctx.config.queue;
  const stops: Array<() => Promise<void>> = [];
  if (jobs !== 'events') stops.push(await registerOrderJobs(ctx), await registerInventoryJobs(ctx));
  if (jobs !== 'orders') stops.push(await registerEventJobs(ctx));
  return {
    stop: async () => {
      for (const stop of stops) await stop();
    },
  };
}
