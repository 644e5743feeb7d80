import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromJobThread, JobThreadData, ToJobThread } from './job-thread';
import { registry } from './observability/metrics';
import { startService } from './service';
import { createLogger } from './shared/logger';

/** The job thread of a ROLE=all process (see job-thread.ts): a ROLE=worker service in a thread. */
async function run(): Promise<void> {
  const port = parentPort!;
  const post = (message: FromJobThread) => port.postMessage(message);
  const { config, nice } = workerData as JobThreadData;
  const logger = createLogger(config.logLevel, { role: 'all', thread: 'jobs' });
  try {
    // On Linux a nice value belongs to the thread that sets it, so the HTTP thread keeps its own.
    if (nice > 0 && process.platform === 'linux') os.setPriority(nice);
    const service = await startService(config, logger);
    port.on('message', (message: ToJobThread) => {
      if (message.type === 'notify') service.ctx.queue.notify(message.queue);
      else if (message.type === 'metrics') void registry.getMetricsAsJSON().then((metrics) => post({ type: 'metrics', id: message.id, metrics }));
      else if (message.type === 'stop') {
        void service
          .stop()
          .catch((error: unknown) => logger.error({ err: error }, 'job thread: shutdown incomplete'))
          .finally(() => port.close());
      }
    });
    post({ type: 'ready' });
  } catch (error) {
    post({ type: 'failed', message: (error as Error).message });
    port.close();
  }
}

void run();
