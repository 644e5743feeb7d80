import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromJobThread, JobThreadData, ToJobThread } from './job-thread';
import { registry } from './observability/metrics';
import { startTracing } from './observability/tracing';
import { createLogger } from './shared/logger';

/** The job thread of a ROLE=all process (see job-thread.ts): a ROLE=worker service in a thread. */
async function run(): Promise<void> {
  const port = parentPort!;
  const post = (message: FromJobThread) => port.postMessage(message);
  const { config, nice } = workerData as JobThreadData;
  // A thread loads its own modules: tracing starts here too, before the service's modules load.
  const thread = config.queue.jobs === 'events' ? 'events' : 'jobs';
  const tracing = startTracing(config, { thread });
  // Required, not imported: an import would load it (express, pg) before tracing starts.
  const { startService } = require('./service') as typeof import('./service');
  const logger = createLogger(config.logLevel, { role: 'all', thread }, undefined, { pretty: config.logPretty });
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
          .then(() => tracing.shutdown())
          .catch((error: unknown) => logger.warn({ err: error }, 'job thread: could not export the last spans'))
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
