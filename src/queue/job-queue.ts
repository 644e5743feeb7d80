import pg from 'pg';
import PgBoss from 'pg-boss';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { AppConfig } from '../config';
import type { Logger } from '../shared/logger';
import { PreparingClient } from '../db/prepared-statements';
import { sessionOptions } from '../db/sequelize';
import { QueueInspector } from './inspect';
import { BacklogWatch } from './backlog';
import { JobLoop, type BatchHandler, type JobHandler, type LoopHandler, type RunningLoop } from './job-loop';
import { QUEUES, type JobPayloads, type QueueName } from './queues';
import { inSpan, linkTo } from '../observability/traces';

type Job<T> = PgBoss.Job<T>;
type Queue = PgBoss.Queue;
type SendOptions = PgBoss.SendOptions;

export type JobOf<Q extends QueueName> = Job<JobPayloads[Q]> & { retryCount?: number; retryLimit?: number };

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

/** The one owner of pg-boss: queue creation, typed sends and workers. */
export class JobQueue {
  readonly boss: PgBoss;
  /** Counts, failed jobs and jobs by payload: what pg-boss's API does not answer. */
  readonly inspect: QueueInspector;
  /** The age of the order queues' backlog, for intake's load shedding and the metrics. */
  readonly backlog: BacklogWatch;
  /** pg-boss's connections: ours, handed to it through its documented `db` option. */
  private readonly pool: pg.Pool;
  private poolEnded?: Promise<void>;
  private readonly loops: RunningLoop[] = [];
  private readonly notifyRelays: Array<(name: QueueName) => void> = [];

  constructor(
    private readonly config: AppConfig,
    private readonly sequelize: Sequelize,
    databaseUrl: string,
    private readonly logger: Logger,
  ) {
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      // pg.Pool's documented `Client` option: prepared statements for pg-boss's fetches too.
      ...(config.db.preparedStatements ? { Client: PreparingClient } : {}),
      // Every queue's fetches, completions and failures share these (opened as needed): with
      // four, a busy charge queue's failures and fetches waited on each other.
      max: 8,
      application_name: 'orderloop-queue',
      idle_in_transaction_session_timeout: config.db.idleInTransactionTimeoutMs,
      // A queue's table swings from empty to a backlog of tens of thousands and back: a fetch plan
      // cached while it was empty read every row of the queue for each job it took, so a backlog
      // made every fetch slower (0.15–0.96 s with 20,000 jobs in the queue, against 10 ms planned afresh).
      // The relay's and the deliveries' bookkeeping commits asynchronously: redone if lost.
      ...sessionOptions({ freshPlans: config.db.preparedStatements, asynchronousCommit: config.role === 'worker' && config.queue.jobs === 'events' }),
    });
    this.pool.on('error', (error: Error) => this.logger.error({ err: error }, 'pg-boss connection error'));
    this.boss = new PgBoss({
      db: { executeSql: (text: string, values: unknown[] = []) => this.pool.query(text, values) },
      schema: config.queue.schema,
      // Jobs held by a crashed worker come back after they expire (pg-boss 10 has no heartbeat).
      expireInSeconds: config.queue.jobExpireSeconds,
      // Expired jobs are found by maintenance; run it often enough that a killed worker's jobs return within a minute or so.
      maintenanceIntervalSeconds: 30,
      // Ticks come from node-cron in each worker process, deduplicated by singleton keys.
      schedule: false,
    });
    this.boss.on('error', (error: Error) => this.logger.error({ err: error }, 'pg-boss error'));
    this.inspect = new QueueInspector(this.boss, config.queue.schema);
    this.backlog = new BacklogWatch(this.inspect, [QUEUES.ORDER_RESERVE, QUEUES.ORDER_CHARGE], logger);
  }

  async start(): Promise<void> {
    await this.boss.start();
    await this.createQueues();
  }

  private async createQueues(): Promise<void> {
    const { payments, queue, inventory, webhooks } = this.config;
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
      // The refund counts its own calls (REFUND_MAX_ATTEMPTS) and gives up itself; the spare retries
      // are for deliveries that died mid-call (a crash, an expiry), which count nothing.
      [QUEUES.ORDER_REFUND]: {
        policy: 'standard',
        retryLimit: payments.refunds.maxAttempts + 3,
        retryDelay: payments.refunds.retryDelaySeconds,
        retryBackoff: true,
        expireInSeconds: Math.max(queue.jobExpireSeconds, Math.ceil((payments.timeoutMs * 2) / 1000) + 5),
      },
      // Each delivery counts its own attempts (WEBHOOK_MAX_ATTEMPTS) and settles itself; the spare
      // retries are for deliveries that died mid-call (a crash, an expiry), which count nothing.
      [QUEUES.WEBHOOK_DELIVER]: {
        policy: 'standard',
        retryLimit: webhooks.maxAttempts + 3,
        retryDelay: webhooks.retryDelaySeconds,
        retryBackoff: true,
        expireInSeconds: Math.max(queue.jobExpireSeconds, Math.ceil((webhooks.timeoutMs * 2) / 1000) + 5),
      },
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

  /** Sends many jobs to one queue in one statement (pg-boss insert), inside `transaction` when given. */
  async sendMany<Q extends QueueName>(name: Q, payloads: Array<JobPayloads[Q]>, options: { transaction?: Transaction } = {}): Promise<void> {
    if (!payloads.length) return;
    const jobs = payloads.map((data) => ({ name, data: data as object }));
    await this.boss.insert(jobs, options.transaction ? { db: this.transactionDb(options.transaction) } : {});
  }

  /** Like send, but returns null when pg-boss deduplicated the job (singleton keys, stately queues). */
  async trySend<Q extends QueueName>(name: Q, data: JobPayloads[Q], options: TypedSendOptions = {}): Promise<string | null> {
    const { transaction, ...sendOptions } = options;
    if (transaction) sendOptions.db = this.transactionDb(transaction);
    return this.boss.send(name, data as object, sendOptions);
  }

  /** pg-boss's `db` option over a Sequelize transaction: its jobs exist if and only if the transaction commits. */
  private transactionDb(transaction: Transaction): PgBoss.Db {
    return {
      executeSql: async (text: string, values: unknown[] = []) => ({
        rows: await this.sequelize.query(text, {
          bind: values.map((value) => (value === undefined ? null : value)),
          transaction,
          type: QueryTypes.SELECT,
        }),
      }),
    };
  }

  /**
   * Starts this queue's job loop (src/queue/job-loop.ts): up to `concurrency` jobs in flight
   * (default WORKER_CONCURRENCY), each handled on its own; a job whose handler throws is failed
   * alone and retried per the queue's policy.
   */
  async work<Q extends QueueName>(
    name: Q,
    handler: JobHandler<JobOf<Q>>,
    options: { span: string; concurrency?: number; batchSize?: number; pollingIntervalSeconds?: number },
  ): Promise<void> {
    const concurrency = options.concurrency ?? this.config.queue.workers;
    const traced: JobHandler<JobOf<Q>> = (job) => {
      const data = job.data as { orderId?: string; traceparent?: string };
      // The job's span joins the trace its payload names (its order's), or starts one.
      return inSpan(options.span, {
        parent: data.traceparent ?? null,
        attributes: { 'job.queue': name, 'job.id': job.id, 'job.attempt': (job.retryCount ?? 0) + 1, ...(data.orderId ? { order_id: data.orderId } : {}) },
      }, () => handler(job));
    };
    this.startLoop(name, { each: traced }, concurrency, Math.min(options.batchSize ?? this.config.queue.batchSize, concurrency), options.pollingIntervalSeconds);
  }

  /**
   * Like work(), but the handler gets each fetch of up to WORKER_BATCH_SIZE jobs whole, for
   * set-based work; the batch's jobs are completed together, or all failed with its error.
   * `concurrency` counts batches in flight.
   */
  async workBatches<Q extends QueueName>(
    name: Q,
    handler: BatchHandler<JobOf<Q>>,
    options: { span: string; concurrency: number; batchSize?: number; pollingIntervalSeconds?: number },
  ): Promise<void> {
    // A batch is its own trace, linked to each job's; the handler gives each job a span in its own trace.
    const traced: BatchHandler<JobOf<Q>> = (jobs) => inSpan(options.span, {
      parent: null,
      attributes: { 'job.queue': name, 'job.count': jobs.length },
      links: jobs.flatMap((job) => linkTo((job.data as { traceparent?: string }).traceparent)),
    }, () => handler(jobs));
    this.startLoop(name, { batch: traced }, options.concurrency, options.batchSize ?? this.config.queue.batchSize, options.pollingIntervalSeconds);
  }

  private startLoop<Q extends QueueName>(name: Q, handler: LoopHandler<JobOf<Q>>, concurrency: number, batchSize: number, pollingIntervalSeconds?: number): void {
    const pollMs = (pollingIntervalSeconds ?? this.config.queue.pollingIntervalSeconds) * 1000;
    this.loops.push(new JobLoop<JobOf<Q>>(this.boss, name, handler, {
      concurrency,
      batchSize,
      pollMs,
      idleMaxMs: Math.max(pollMs, this.config.queue.idlePollSeconds * 1000),
    }, this.logger));
  }

  /** Wakes this process's loop for a queue, so a job sent here need not wait out a pause. */
  notify(name: QueueName): void {
    for (const loop of this.loops) if (loop.queue === name) loop.wake();
    for (const relay of this.notifyRelays) relay(name);
  }

  /** Passes this queue's wake-ups on to job loops that run elsewhere (the job thread). */
  relayNotifications(relay: (name: QueueName) => void): void {
    this.notifyRelays.push(relay);
  }

  async ping(): Promise<void> {
    await this.boss.getQueueSize(QUEUES.ORDER_RESERVE);
  }

  /** Stops the job loops (letting jobs in flight finish, up to 8 s), then pg-boss. */
  async stop(): Promise<void> {
    const loops = this.loops.splice(0);
    for (const loop of loops) loop.stop();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(loops.map((l) => l.done)).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 8000))),
    ]);
    clearTimeout(timer);
    if (!finished) this.logger.warn('job handlers still running after 8 s; stopping pg-boss anyway (their jobs come back when they expire)');
    try {
      await this.backlog.stop();
      await this.boss.stop({ graceful: true, wait: true, timeout: 8000 });
    } finally {
      // pg-boss leaves a `db` it was given open; the pool is ours to end (once).
      this.poolEnded ??= this.pool.end();
      await this.poolEnded;
    }
  }
}
