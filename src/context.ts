import type { Sequelize } from 'sequelize';
import type { AppConfig } from './config';
import type { JobQueue } from './queue/job-queue';
import type { Logger } from './shared/logger';
import type { PaymentAdapter } from './modules/payments';
import type { TokenService } from './modules/auth';
import type { JobThread } from './job-thread';
import type { EventHub } from './modules/events';

/** What the app, jobs and use cases are built from; main.ts and the tests assemble it. */
export interface AppContext {
  config: AppConfig;
  logger: Logger;
  sequelize: Sequelize;
  queue: JobQueue;
  payments: PaymentAdapter;
  tokens: TokenService;
  /** This process's one LISTEN connection for events (live streams, the webhook relay); opened on first use. */
  eventHub: EventHub;
  /** Where the inventory sync pulls stock from (the mock warehouse in ROLE=all). */
  warehouseUrl?: string;
  /** The payment provider ctx.payments talks to (the mock in ROLE=all); the admin API proxies its /config for demos. */
  paymentProviderUrl?: string;
  /**
   * Which mocks run inside this process (development, ROLE=all, their URL unset): only these get
   * the dashboard's /admin/mocks/* controls, so no deployment exposes a door to reconfigure its dependencies.
   */
  mocksInProcess: { payments: boolean; warehouse: boolean };
  /** ROLE=all with WORKER_THREAD: the threads that run the job loops (their metrics join /metrics). */
  jobThreads?: Array<Pick<JobThread, 'metrics'>>;
}
