import type { AppConfig } from './config';
import { buildApp } from './app';
import type { AppContext } from './context';
import { chooseDatabase, type ChosenDatabase } from './db/database';
import { redactUrl } from './shared/redact-url';
import { ADVISORY_LOCKS, migrateUp, withAdvisoryLock } from './db/migrate';
import { createSequelize } from './db/sequelize';
import { registerModels } from './db/models';
import { startPaymentProviderMock } from './mocks/payment-provider';
import { startWarehouseMock } from './mocks/warehouse';
import { createPaymentAdapter } from './modules/payments';
import { TokenService } from './modules/auth';
import { developmentJwtSecret } from './modules/auth';
import { JobQueue } from './queue/job-queue';
import { EventHub } from './modules/events';
import { startWorkers, type RunningWorkers } from './workers';
import { startJobThread, type JobThread, type JobThreadData } from './job-thread';
import { listen, type RunningServer } from './shared/http-server';
import { startMetricsServer } from './observability/routes';
import type { Logger } from './shared/logger';

export interface RunningService {
  ctx: AppContext;
  database: ChosenDatabase;
  http?: RunningServer;
  /** The METRICS_PORT server, when configured. */
  metrics?: RunningServer;
  stop(): Promise<void>;
}

/** config → database → migrations → mocks → queue → roles → listen. Each step is undone by stop(), in reverse. */
export async function startService(config: AppConfig, logger: Logger): Promise<RunningService> {
  const undo: UndoStep[] = [];
  const stop = () => undoAll(undo.splice(0).reverse(), config.shutdownTimeoutMs, logger);

  try {
    const database = await chooseDatabase(config, logger);
    undo.push({ name: 'database', run: () => database.release() });
    const shownUrl = database.source === 'embedded' ? database.url : redactUrl(database.url);
    logger.info({ source: database.source, url: shownUrl }, `database: ${shownUrl} (${database.source})`);
    if (database.source === 'embedded') {
      // Printed plainly so a person can copy it into psql.
      process.stdout.write(`\nEmbedded PostgreSQL is running. Open it with:\n  psql "${database.url}"\n\n`);
    }

    const sequelize = registerModels(createSequelize(database.url, { poolMax: config.db.poolMax, preparedStatements: config.db.preparedStatements, idleInTransactionTimeoutMs: config.db.idleInTransactionTimeoutMs, asynchronousCommit: eventsOnly(config), logger }));
    undo.push({ name: 'connection pool', run: () => sequelize.close() });
    await sequelize.authenticate();

    if (config.migrateOnStart) {
      const applied = await migrateUp(sequelize, logger);
      logger.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date');
    }

    const runsWorkers = config.role !== 'api';
    // Production refuses to start without real URLs (config), so a mock never stands in there.
    const mocksHere = config.role === 'all' && !config.production;
    const mocksInProcess = { payments: false, warehouse: false };
    let paymentUrl = config.payments.providerUrl;
    if (!paymentUrl && mocksHere) {
      const mock = await startPaymentProviderMock({ ...config.payments.mock, hangMs: config.payments.timeoutMs + 1000 }, config.payments.mock.port);
      undo.push({ name: 'payment mock', run: () => mock.close() });
      paymentUrl = mock.url;
      mocksInProcess.payments = true;
      logger.info({ url: mock.url }, `mock payment provider listening on ${mock.url} (PAYMENT_MOCK_PORT)`);
    }
    let warehouseUrl = config.inventory.warehouseUrl;
    if (!warehouseUrl && mocksHere) {
      const mock = await startWarehouseMock(config.inventory.mock, config.inventory.mock.port);
      undo.push({ name: 'warehouse mock', run: () => mock.close() });
      warehouseUrl = mock.url;
      mocksInProcess.warehouse = true;
      logger.info({ url: mock.url }, `mock warehouse listening on ${mock.url} (WAREHOUSE_MOCK_PORT)`);
    }
    if (runsWorkers && !paymentUrl) throw new Error('PAYMENT_PROVIDER_URL must be set for ROLE=worker (or run ROLE=all to use the mock provider)');
    if (runsWorkers && !warehouseUrl) throw new Error('WAREHOUSE_URL must be set for ROLE=worker (or run ROLE=all to use the mock warehouse)');

    const queue = new JobQueue(config, sequelize, database.url, logger);
    // Registered before start: a start that fails half-way (pool open, some queues made) is still undone.
    undo.push({ name: 'queue', run: () => queue.stop() });
    // Processes starting together would otherwise create the same queues at once, which deadlocks in PostgreSQL.
    await withAdvisoryLock(sequelize, ADVISORY_LOCKS.queueSetup, () => queue.start());

    const eventHub = new EventHub(database.url, logger);
    undo.push({ name: 'event stream connection', run: () => eventHub.stop() });

    const ctx: AppContext = {
      config,
      logger,
      sequelize,
      queue,
      eventHub,
      payments: createPaymentAdapter(config, paymentUrl ?? 'http://127.0.0.1:1', logger),
      tokens: new TokenService(config.auth.jwtSecret ?? developmentJwtSecret(config.dataDir), config.auth.tokenTtlSeconds, {
        clientStatusRefreshSeconds: config.auth.clientStatusRefreshSeconds,
      }),
      warehouseUrl,
      paymentProviderUrl: paymentUrl,
      mocksInProcess,
    };

    if (runsWorkers && config.role === 'all' && config.queue.thread) {
      const threadConfig: AppConfig = {
        ...config,
        role: 'worker',
        migrateOnStart: false,
        metricsPort: undefined,
        db: { ...config.db, url: database.url },
        payments: { ...config.payments, providerUrl: paymentUrl },
        inventory: { ...config.inventory, warehouseUrl },
      };
      // A thread that dies is a crash like any other: main.ts stops the service with exit code 1.
      const crash = (error: Error) =>
        process.nextTick(() => {
          throw error;
        });
      const { eventsThread } = config.queue;
      // Webhook deliveries in a thread of their own: they then take the other core instead of the order jobs' turns.
      const plans: Array<{ name: string; config: AppConfig; heap?: JobThreadData['heap'] }> = [
        { name: 'job thread', config: { ...threadConfig, queue: { ...config.queue, jobs: eventsThread ? 'orders' : 'all' } } },
        ...(eventsThread
          ? [{
              name: 'events thread',
              config: { ...threadConfig, queue: { ...config.queue, jobs: 'events' as const }, db: { ...threadConfig.db, poolMax: Math.min(5, config.db.poolMax) } },
              // Its work holds little (a delivery is a small body in flight): a small heap keeps the process within its memory.
              heap: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
            }]
          : []),
      ];
      const threads: JobThread[] = [];
      for (const plan of plans) {
        const thread = await startJobThread({ config: plan.config, nice: config.queue.threadNice, heap: plan.heap }, logger, crash);
        undo.push({ name: plan.name, run: () => thread.stop() });
        threads.push(thread);
      }
      queue.relayNotifications((name) => threads.forEach((thread) => thread.notify(name)));
      ctx.jobThreads = threads;
    } else if (runsWorkers) {
      const workers: RunningWorkers = await startWorkers(ctx);
      undo.push({ name: 'workers', run: () => workers.stop() });
    }

    let metricsServer: RunningServer | undefined;
    if (config.metricsPort !== undefined) {
      // Any role: a worker has no API port, and this is how Prometheus reads its job and payment metrics.
      metricsServer = await startMetricsServer(ctx, config.metricsPort, config.metricsHost);
      undo.push({ name: 'metrics server', run: () => metricsServer!.close() });
      logger.info({ port: metricsServer.port }, `metrics (no auth) on http://localhost:${metricsServer.port}/metrics (METRICS_PORT)`);
    }

    let http: RunningServer | undefined;
    if (config.role !== 'worker') {
      http = await listen(buildApp(ctx), config.port, config.host);
      // In-flight requests get half the shutdown budget; the rest is for workers, the queue and the database.
      undo.push({ name: 'http', run: () => closeGracefully(http!, Math.floor(config.shutdownTimeoutMs / 2)) });
      logger.info({ port: http.port }, `orderloop listening on http://${displayHost(config.host)}:${http.port} (role ${config.role}; HOST=${config.host})`);
    } else {
      logger.info('orderloop worker started');
    }

    return { ctx, database, http, metrics: metricsServer, stop };
  } catch (error) {
    await stop().catch((stopError: unknown) => logger.warn({ err: stopError }, 'clean-up after a failed start was incomplete'));
    throw error;
  }
}

/** A process or thread that runs only the webhook relay and deliveries (WORKER_JOBS=events, the events thread). */
const eventsOnly = (config: AppConfig) => config.role === 'worker' && config.queue.jobs === 'events';

/** What a person can open: the wildcard address is reachable as localhost too. */
function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
}

interface UndoStep {
  name: string;
  run(): Promise<unknown>;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs the undo steps in order, each bounded by what is left of the shutdown budget, so one
 * that hangs (a query stuck on a lock, a dependency gone silent) cannot stop the others. The
 * last step (releasing the database: stopping an embedded server) keeps a reserve of its own,
 * because a server left running would block the next start. Rejects, after every step has had
 * its turn, when any step ran out of time (a step that throws is logged and counts as done).
 */
async function undoAll(steps: UndoStep[], budgetMs: number, logger: Logger): Promise<void> {
  const RESERVE_MS = 2_000;
  const deadline = Date.now() + Math.max(budgetMs - 1_000, 1_000);
  const unfinished: string[] = [];
  for (const [index, step] of steps.entries()) {
    const isLast = index === steps.length - 1;
    const allowed = Math.max((isLast ? deadline : deadline - RESERVE_MS) - Date.now(), 250);
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        step.run(),
        new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), allowed))),
      ]);
      if (outcome === TIMED_OUT) {
        unfinished.push(step.name);
        logger.error({ step: step.name, allowedMs: allowed }, `shutdown: ${step.name} did not stop within ${allowed} ms; moving on`);
      }
    } catch (error) {
      // A step that fails has still finished: typically the database went first (Ctrl-C in a
      // terminal reaches the embedded server too), so there was nothing left to close.
      logger.warn({ err: error, step: step.name }, `shutdown: stopping ${step.name} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
  if (unfinished.length) throw new Error(`shutdown incomplete: ${unfinished.join(', ')} did not stop in time`);
}

/** Stops accepting connections, lets in-flight requests finish, then drops idle keep-alive sockets. */
function closeGracefully(http: RunningServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      http.server.closeAllConnections();
      resolve();
    }, Math.max(timeoutMs, 1000));
    http.server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    http.server.closeIdleConnections();
  });
}
