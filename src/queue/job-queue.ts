import PgBoss from 'pg-boss';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { AppConfig } from '../config';
import type { Logger } from '../shared/logger';
import { PreparingClient } from '../db/prepared-statements';
import { QueueInspector } from './inspect';
import { QUEUES, type JobPayloads, type QueueName } from './queues';

type Job<T> = PgBoss.Job<T>;
type Queue = PgBoss.Queue;
type SendOptions = PgBoss.SendOptions;

export type JobOf<Q extends QueueName> = Job<JobPayloads[Q]> & { retryCount?: number; retryLimit?: number };
export type BatchHandler<Q extends QueueName> = (jobs: JobOf<Q>[]) => Promise<void>;

export interface TypedSendOptions extends SendOptions {
  /** Enqueue inside this Sequelize transaction: the job exists if and only if it commits. */
  transaction?: Transaction;
}

export class QueueSendError extends Error {
  constructor(queue: string) {
    super(`pg-boss did not create a job on queue "${queue}" (the queue is missing or the job was deduplicated)`);
    this.name = 'QueueSendError';
  }
}

/**
 * Thrown by a batch handler that handled its jobs one by one: each failed job is failed with its
 * own error (the others were completed by the handler), so each is retried on its own.
 */
export class BatchFailure extends Error {
  constructor(readonly failures: Array<{ jobId: string; error: Error }>) {
    super(failures.map((f) => f.error.message).join('; '));
    this.name = 'BatchFailure';
  }
}

/** One polling loop on one queue (see JobQueue.work). */
interface Poller {
  queue: QueueName;
  /** Ends the current wait at once (a job was sent, or the queue is stopping). */
  wake(): void;
  stop(): void;
  /** Resolves when the loop has ended, its batch in flight included. */
  done: Promise<void>;
}

const sleepUnlessWoken = (ms: number, onWake: (wake: () => void) => void) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    onWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The one owner of pg-boss: queue creation, typed sends and workers. */
export class JobQueue {
  readonly boss: PgBoss;
  /** Counts, failed jobs and jobs by payload: what pg-boss's API does not answer. */
  readonly inspect: QueueInspector;
  private readonly pollers: Poller[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly sequelize: Sequelize,
    databaseUrl: string,
    private readonly logger: Logger,
  ) {
    this.boss = new PgBoss({
      connectionString: databaseUrl,
      // pg-boss hands its options to pg.Pool, which builds its connections with this Client.
      ...(config.db.preparedStatements ? { Client: PreparingClient } : {}),
      schema: config.queue.schema,
      max: 4,
      application_name: 'orderloop-queue',
      // Jobs held by a crashed worker come back after they expire (pg-boss 10 has no heartbeat).
      expireInSeconds: config.queue.jobExpireSeconds,
      // Expired jobs are found by maintenance; run it often enough that a killed worker's jobs return within a minute or so.
      maintenanceIntervalSeconds: 30,
      // Ticks come from node-cron in each worker process, deduplicated by singleton keys.
      schedule: false,
    });
    this.boss.on('error', (error: Error) => this.logger.error({ err: error }, 'pg-boss error'));
    this.inspect = new QueueInspector(this.boss, config.queue.schema);
  }

  async start(): Promise<void> {
    await this.boss.start();
    await this.createQueues();
  }

  private async createQueues(): Promise<void> {
    const { payments, queue, inventory } = this.config;
    const definitions: Record<QueueName, Omit<Queue, 'name'>> = {
      [QUEUES.ORDER_RESERVE]: { policy: 'standard', retryLimit: 5, retryDelay: 1, retryBackoff: true },
      [QUEUES.ORDER_CHARGE]: {
        policy: 'standard',
        retryLimit: payments.maxAttempts - 1,
        retryDelay: payments.retryDelaySeconds,
        retryBackoff: payments.retryBackoff,
        // A charge job that fails for good (last attempt, expiry) lands here to release its stock.
        deadLetter: QUEUES.ORDER_CHARGE_DEAD,
        expireInSeconds: Math.max(queue.jobExpireSeconds, Math.ceil((payments.timeoutMs * 2) / 1000) + 5),
      },
      [QUEUES.ORDER_CHARGE_DEAD]: { policy: 'standard', retryLimit: 5, retryDelay: 5 },
      [QUEUES.RESERVATION_SWEEP]: { policy: 'singleton', retryLimit: 0 },
      [QUEUES.INVENTORY_SYNC]: {
        policy: 'stately',
        retryLimit: inventory.syncMaxAttempts - 1,
        retryDelay: inventory.syncRetryDelaySeconds,
        retryBackoff: true,
        expireInSeconds: 15 * 60,
      },
    };
    // Dead-letter targets must exist before the queues that point at them.
    const order: QueueName[] = [QUEUES.ORDER_CHARGE_DEAD, ...Object.values(QUEUES).filter((q) => q !== QUEUES.ORDER_CHARGE_DEAD)];
    for (const name of order) {
      const existing = await this.boss.getQueue(name);
      if (existing) {
        const { policy: _policy, ...changeable } = definitions[name];
        await this.boss.updateQueue(name, changeable as Queue);
      } else await this.boss.createQueue(name, { name, ...definitions[name] });
    }
  }

  /** Sends a job; `null` from pg-boss (missing queue or deduplicated) becomes an error unless `allowDuplicate`. */
  async send<Q extends QueueName>(name: Q, data: JobPayloads[Q], options: TypedSendOptions = {}): Promise<string> {
    const id = await this.trySend(name, data, options);
    if (!id) throw new QueueSendError(name);
    return id;
  }

  /** Like send, but returns null when pg-boss deduplicated the job (singleton keys, stately queues). */
  async trySend<Q extends QueueName>(name: Q, data: JobPayloads[Q], options: TypedSendOptions = {}): Promise<string | null> {
    const { transaction, ...sendOptions } = options;
    if (transaction) {
      (sendOptions as SendOptions & { db?: unknown }).db = {
        executeSql: async (text: string, values: unknown[] = []) => ({
          rows: await this.sequelize.query(text, {
            bind: values.map((value) => (value === undefined ? null : value)),
            transaction,
            type: QueryTypes.SELECT,
          }),
        }),
      };
    }
    return this.boss.send(name, data as object, sendOptions);
  }

  /**
   * Starts `config.queue.workers` pollers; each fetches a batch and hands it to `handler`, then
   * completes the batch, or fails it when the handler throws (jobs the handler already completed
   * stay completed). A full batch is followed by another fetch at once, otherwise a poller waits
   * out the rest of the polling interval (or until notify() wakes it).
   *
   * The loop is ours, over pg-boss's fetch/complete/fail, and not pg-boss's work(): pg-boss 10
   * calls complete()/fail() after a handler without awaiting them, so when the database is
   * unreachable at that moment the rejection is unhandled and the whole process dies (seen in
   * the chaos run: a worker crashed on the first job it finished during a database restart).
   * Here a failed complete/fail is logged and the jobs, still active, come back when they expire.
   */
  async work<Q extends QueueName>(
    name: Q,
    handler: BatchHandler<Q>,
    options: { workers?: number; batchSize?: number; pollingIntervalSeconds?: number } = {},
  ): Promise<void> {
    const workers = options.workers ?? this.config.queue.workers;
    const batchSize = options.batchSize ?? this.config.queue.batchSize;
    const intervalMs = (options.pollingIntervalSeconds ?? this.config.queue.pollingIntervalSeconds) * 1000;
    for (let i = 0; i < workers; i += 1) this.pollers.push(this.startPoller(name, handler, batchSize, intervalMs));
  }

  private startPoller<Q extends QueueName>(name: Q, handler: BatchHandler<Q>, batchSize: number, intervalMs: number): Poller {
    let stopping = false;
    let woken = false;
    let wakeWait: (() => void) | null = null;
    const wake = () => {
      woken = true;
      wakeWait?.();
    };
    const loop = async () => {
      while (!stopping) {
        const started = Date.now();
        woken = false;
        let jobs: JobOf<Q>[] = [];
        try {
          jobs = (await this.boss.fetch(name, { batchSize, includeMetadata: true })) as JobOf<Q>[];
        } catch (error) {
          this.logger.warn({ err: error, queue: name }, 'could not fetch jobs');
        }
        if (jobs?.length) await this.runBatch(name, handler, jobs);
        if (stopping || woken || jobs?.length === batchSize) continue;
        const rest = intervalMs - (Date.now() - started);
        if (rest > 0) {
          await sleepUnlessWoken(rest, (w) => (wakeWait = w));
          wakeWait = null;
        }
      }
    };
    return {
      queue: name,
      wake,
      stop: () => {
        stopping = true;
        wakeWait?.();
      },
      done: loop(),
    };
  }

  private async runBatch<Q extends QueueName>(name: Q, handler: BatchHandler<Q>, jobs: JobOf<Q>[]): Promise<void> {
    const ids = jobs.map((job) => job.id);
    let failure: unknown;
    let failed = false;
    try {
      await handler(jobs);
    } catch (error) {
      failure = error;
      failed = true;
    }
    if (!failed) {
      await this.boss.complete(name, ids).catch((error: unknown) =>
        this.logger.warn({ err: error, queue: name, jobs: ids.length }, `could not mark ${ids.length} job(s) completed; they stay active and come back when they expire`),
      );
      return;
    }
    // fail() only touches jobs that are still active: those the handler completed stay completed.
    // One call per job: pg-boss takes an error output only with a single id.
    const errors = new Map(failure instanceof BatchFailure ? failure.failures.map((f) => [f.jobId, f.error] as const) : []);
    const results = await Promise.allSettled(ids.map((id) => {
      const error = (errors.get(id) ?? failure) as Error | undefined;
      return this.boss.fail(name, id, { message: error?.message ?? String(error), name: error?.name });
    }));
    const unmarked = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (unmarked.length) {
      this.logger.warn(
        { err: unmarked[0].reason, queue: name, jobs: unmarked.length },
        `could not mark ${unmarked.length} of ${ids.length} job(s) failed; they stay active and come back when they expire`,
      );
    }
  }

  /** Wakes one of this process's pollers for a queue, so a job sent here need not wait a polling interval. */
  notify(name: QueueName): void {
    const pollers = this.pollers.filter((p) => p.queue === name);
    if (pollers.length) pollers[Math.floor(Math.random() * pollers.length)].wake();
  }

  /** Completes some jobs of a batch now (perJob in src/modules/orders/jobs.ts: the rest are then failed alone). */
  async complete(name: QueueName, ids: string[]): Promise<void> {
    if (ids.length) await this.boss.complete(name, ids);
  }

  async ping(): Promise<void> {
    await this.boss.getQueueSize(QUEUES.ORDER_RESERVE);
  }

  /** Stops the pollers (letting batches in flight finish, up to 8 s), then pg-boss. */
  async stop(): Promise<void> {
    const pollers = this.pollers.splice(0);
    for (const poller of pollers) poller.stop();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(pollers.map((p) => p.done)).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 8000))),
    ]);
    clearTimeout(timer);
    if (!finished) this.logger.warn('job handlers still running after 8 s; stopping pg-boss anyway (their jobs come back when they expire)');
    await this.boss.stop({ graceful: true, wait: true, timeout: 8000 });
  }
}
