import { adminToken, Cluster, createDatabase, type ChaosDatabase, type ChaosProcess } from '../cluster';
import { inspectJobs, type QueueInspector } from '../../src/queue/inspect';
import type { Report } from '../checks';

export interface ScenarioContext {
  /** The scenario's own directory: database, process logs. */
  dir: string;
  report: Report;
  log(message: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface PaymentFaults {
  failureRate: number;
  declineRate: number;
  lostResponseRate: number;
  latencyMs?: number;
}

export interface Stack {
  db: ChaosDatabase;
  cluster: Cluster;
  api: ChaosProcess;
  workers: ChaosProcess[];
  payments: ChaosProcess;
  warehouse?: ChaosProcess;
  apiUrl: string;
  paymentUrl: string;
  warehouseUrl?: string;
  token: string;
  /** pg-boss's jobs, asked through the service's own inspector (src/queue/inspect.ts). */
  jobs: QueueInspector;
  /** Stops every process, then the database. */
  close(): Promise<void>;
}

/**
 * Settings every orderloop process of a chaos run shares. JOB_EXPIRE_S is short so a job held
 * by a killed worker expires soon (pg-boss 10 has no heartbeat; its maintenance, every 30 s,
 * fails expired jobs into retry); the charge queue's expiry is max(JOB_EXPIRE_S, 2 × timeout + 5).
 */
export const CHAOS_ENV: Record<string, string> = {
  JOB_EXPIRE_S: '15',
  PAYMENT_TIMEOUT_MS: '1000',
  PAYMENT_MAX_ATTEMPTS: '5',
  PAYMENT_RETRY_DELAY_S: '1',
  PAYMENT_RETRY_BACKOFF: 'true',
  WORKER_CONCURRENCY: '2',
  WORKER_BATCH_SIZE: '10',
  WORKER_POLL_INTERVAL_S: '0.5',
  DB_POOL_MAX: '10',
};

/**
 * Database, payment mock (and warehouse mock) as processes, one ROLE=api process (which
 * migrates), `workers` ROLE=worker processes, an admin client and its token.
 */
export async function startStack(
  ctx: ScenarioContext,
  options: {
    workers: number;
    payment: PaymentFaults;
    env?: Record<string, string>;
    warehouse?: boolean;
    mustBeEmbedded?: boolean;
    /**
     * Run the service with its own defaults for every PAYMENT_* setting (timeout, attempts,
     * retry delay and backoff, the circuit breaker): CHAOS_ENV's are left out, and `env` may not
     * name one.
     */
    paymentDefaults?: boolean;
  },
): Promise<Stack> {
  const processesEnv = { ...CHAOS_ENV, ...options.env };
  if (options.paymentDefaults) {
    const named = Object.keys(options.env ?? {}).filter((k) => k.startsWith('PAYMENT_'));
    if (named.length) throw new Error(`paymentDefaults: env must not set ${named.join(', ')}`);
    for (const key of Object.keys(processesEnv)) if (key.startsWith('PAYMENT_')) delete processesEnv[key];
  }
  const db = await createDatabase(ctx.dir, { mustBeEmbedded: options.mustBeEmbedded });
  let cluster: Cluster | undefined;
  try {
    cluster = new Cluster(ctx.dir, db.url, processesEnv);
    const payments = await cluster.mock('payments', {
      PAYMENT_FAILURE_RATE: String(options.payment.failureRate),
      PAYMENT_DECLINE_RATE: String(options.payment.declineRate),
      PAYMENT_LOST_RESPONSE_RATE: String(options.payment.lostResponseRate),
      PAYMENT_LATENCY_MS: String(options.payment.latencyMs ?? 0),
      // The mock's hangs last past the callers' timeout (its own default when the service runs on its defaults).
      ...(processesEnv.PAYMENT_TIMEOUT_MS ? { PAYMENT_TIMEOUT_MS: processesEnv.PAYMENT_TIMEOUT_MS } : {}),
    });
    const warehouse = options.warehouse ? await cluster.mock('warehouse', {}) : undefined;
    // Nothing listens on port 9: a worker needs some warehouse URL even when the scenario never syncs.
    const warehouseUrl = warehouse?.url ?? 'http://127.0.0.1:9';
    Object.assign(cluster.sharedEnv, { PAYMENT_PROVIDER_URL: payments.url!, WAREHOUSE_URL: warehouseUrl });

    const api = await cluster.service('api', 'api');
    const workers = await Promise.all(Array.from({ length: options.workers }, (_, i) => cluster!.service(`worker-${String.fromCharCode(97 + i)}`, 'worker')));
    const token = await adminToken(cluster, api.url!);
    ctx.log(`stack up: api ${api.url}, ${workers.length} worker(s), payments ${payments.url}${warehouse ? `, warehouse ${warehouse.url}` : ''}, database ${db.embedded ? `embedded on port ${db.port}` : 'CHAOS_ADMIN_URL'}`);
    const stack: Stack = {
      db,
      jobs: inspectJobs(db.pool),
      cluster,
      api,
      workers,
      payments,
      warehouse,
      apiUrl: api.url!,
      paymentUrl: payments.url!,
      warehouseUrl: warehouse?.url,
      token,
      close: async () => {
        const problems = await cluster!.stopAll();
        await db.close();
        if (problems.length) ctx.log(`shutdown: ${problems.join('; ')}`);
      },
    };
    return stack;
  } catch (error) {
    await cluster?.stopAll().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
}

export function randomItem<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)];
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
