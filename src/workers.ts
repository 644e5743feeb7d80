import type { AppContext } from './context';
import { registerOrderJobs } from './modules/orders';
import { registerInventoryJobs } from './modules/inventory';
import { registerEventJobs } from './modules/events';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Everything a process with the worker role runs: queue workers and cron ticks. */
export async function startWorkers(ctx: AppContext): Promise<RunningWorkers> {
  const stops = [await registerOrderJobs(ctx), await registerInventoryJobs(ctx), await registerEventJobs(ctx)];
  return {
    stop: async () => {
      for (const stop of stops) await stop();
    },
  };
}
