import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { AppConfig } from './config';
import type { QueueName } from './queue/queues';
import type { Logger } from './shared/logger';

export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What the job thread is started with: a ROLE=worker configuration whose URLs are already resolved. */
export interface JobThreadData {
  config: AppConfig;
  /** Linux nice value for the thread (0 leaves it as it is). */
  nice: number;
  /** V8 heap limits of the thread (Worker's resourceLimits); unset, it inherits the process's flags. */
  heap?: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number };
}

export type ToJobThread = { type: 'notify'; queue: QueueName } | { type: 'metrics'; id: number } | { type: 'stop' };
export type FromJobThread =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'metrics'; id: number; metrics: MetricsJson };

export interface JobThread {
  /** Wakes the thread's job loop for a queue (a job was just sent). */
  notify(queue: QueueName): void;
  /** The thread's counters and histograms, for GET /metrics; empty when it does not answer in time. */
  metrics(): Promise<MetricsJson>;
  /** Lets jobs in flight finish, stops the thread's queue and pool, and waits for it to exit. */
  stop(): Promise<void>;
}

const METRICS_TIMEOUT_MS = 2_000;
const ENTRY = path.join(__dirname, 'job-thread-entry.js');

/**
 * ROLE=all runs its job loops here, in a worker thread of the same process: the HTTP event loop
 * then never waits behind job callbacks, and with a nice value the kernel gives the API the CPU
 * first whenever both want it (the jobs catch up in larger, cheaper batches, and intake sheds load
 * if they fall too far behind). `onCrash` is called if the thread dies while running.
 */
export function startJobThread(data: JobThreadData, logger: Logger, onCrash: (error: Error) => void): Promise<JobThread> {
  const worker = new Worker(ENTRY, { workerData: data, ...(data.heap ? { resourceLimits: data.heap } : {}) });
  let stopping = false;
  let nextId = 0;
  const pendingMetrics = new Map<number, (metrics: MetricsJson) => void>();
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  return new Promise<JobThread>((resolve, reject) => {
    let started = false;
    worker.on('message', (message: FromJobThread) => {
      switch (message.type) {
        case 'ready':
          started = true;
          resolve(handle);
          break;
        case 'failed':
          reject(new Error(message.message));
          break;
        case 'metrics':
          pendingMetrics.get(message.id)?.(message.metrics);
          pendingMetrics.delete(message.id);
          break;
      }
    });
    worker.on('error', (error) => {
      if (!started) reject(error);
      else if (!stopping) onCrash(error);
    });
    void exited.then((code) => {
      if (!started) reject(new Error(`the job thread exited with code ${code} while starting`));
      else if (!stopping) onCrash(new Error(`the job thread exited unexpectedly with code ${code}`));
    });

    const post = (message: ToJobThread) => worker.postMessage(message);
    const handle: JobThread = {
      notify: (queue) => post({ type: 'notify', queue }),
      metrics: () =>
        new Promise<MetricsJson>((done) => {
          const id = (nextId += 1);
          const timer = setTimeout(() => {
            pendingMetrics.delete(id);
            logger.warn('metrics: the job thread did not answer; its series are missing from this scrape');
            done([]);
          }, METRICS_TIMEOUT_MS);
          pendingMetrics.set(id, (metrics) => {
            clearTimeout(timer);
            done(metrics);
          });
          post({ type: 'metrics', id });
        }),
      stop: async () => {
        stopping = true;
        post({ type: 'stop' });
        await exited;
      },
    };
  });
}
