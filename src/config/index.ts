import path from 'node:path';
import Joi from 'joi';
import cron from 'node-cron';
import { ROOT_DIR } from '../shared/paths';

/**
 * The only reader of process.env in the service (config/config.js mirrors the
 * database rules for sequelize-cli). Everything is validated once, at start-up.
 */

export const ROLES = Object.freeze(['all', 'api', 'worker'] as const);

/** DB_IDLE_IN_TRANSACTION_TIMEOUT_MS unless set: far above any transaction's own pause, well below a stuck cancel's patience. */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

/** pg-boss's schema unless QUEUE_SCHEMA says otherwise (also what bench, chaos and the test template use). */
export const DEFAULT_QUEUE_SCHEMA = 'pgboss';
export type Role = (typeof ROLES)[number];

export const WORKER_JOBS = Object.freeze(['all', 'orders', 'events'] as const);
export type WorkerJobs = (typeof WORKER_JOBS)[number];

export interface DatabaseSettings {
  url?: string;
  host?: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  poolMax: number;
  /** Send parameterised queries as named prepared statements (src/db/prepared-statements.ts). */
  preparedStatements: boolean;
  /** PostgreSQL ends a session idle inside a transaction this long (a frozen process's locks); 0: never. */
  idleInTransactionTimeoutMs: number;
}

export interface AppConfig {
  nodeEnv: string;
  role: Role;
  port: number;
  /** Address the API listens on: 127.0.0.1 in development, 0.0.0.0 (containers) in production. */
  host: string;
  /** Production never starts a mock, an embedded database or the /admin/mocks/* routes. */
  production: boolean;
  logLevel: string;
  /** Log lines for people (pino-pretty): LOG_PRETTY, else on in development when stdout is a terminal. */
  logPretty: boolean;
  /**
   * OpenTelemetry traces (src/observability/tracing.ts). The SDK reads the standard OTEL_*
   * variables itself; this says whether to start it at all, so that without an exporter
   * nothing is loaded and nothing is spent.
   */
  tracing: {
    enabled: boolean;
    protocol: 'http/json' | 'http/protobuf' | 'grpc';
  };
  /** Absolute: DATA_DIR resolved against the project root. */
  dataDir: string;
  migrateOnStart: boolean;
  bodyLimit: string;
  shutdownTimeoutMs: number;
  /** When set, GET /metrics is also served on this port without authentication (for Prometheus inside a private network). */
  metricsPort?: number;
  metricsHost: string;
  http: {
    /** Express's 'trust proxy' setting: which hops' X-Forwarded-For / X-Forwarded-Proto to believe. */
    trustProxy: boolean | number | string;
    /** Every request reached us over TLS (a terminating proxy without X-Forwarded-Proto, say): send HSTS always. */
    servedOverHttps: boolean;
  };
  db: DatabaseSettings;
  auth: {
    /** Undefined outside production: the service then generates one and keeps it under DATA_DIR. */
    jwtSecret?: string;
    tokenTtlSeconds: number;
    /** Order creations per client per minute; 0 turns the limit off. */
    orderRateLimitPerMinute: number;
    /** POST /auth/token requests per client IP per minute, counted before any hashing; 0 turns it off. */
    tokenRateLimitPerIpPerMinute: number;
    /** Failed sign-ins per client_id per minute before that client_id is refused for the rest of the minute; 0 turns it off. */
    tokenRateLimitPerClientPerMinute: number;
    /** Secret verifications (scrypt, 16 MiB each) running at once per process; beyond it POST /auth/token answers 503. */
    maxConcurrentVerifications: number;
    /** How often each API process re-reads which clients are disabled (their tokens are refused from then on). */
    clientStatusRefreshSeconds: number;
  };
  queue: {
    schema: string;
    /** Database steps of charge attempts at once per process; also the default concurrency of a job loop. */
    workers: number;
    batchSize: number;
    pollingIntervalSeconds: number;
    /** Longest pause of an idle job loop (pauses double from pollingIntervalSeconds while nothing arrives). */
    idlePollSeconds: number;
    /** ROLE=all: run the job loops in a worker thread of the same process, off the HTTP event loop. */
    thread: boolean;
    /** Linux nice value of that thread: under a full CPU the kernel serves HTTP first. */
    threadNice: number;
    /** Which jobs this process (or thread) runs: the order flow and inventory, the webhook relay and deliveries, or all. */
    jobs: WorkerJobs;
    /** ROLE=all with WORKER_THREAD: the webhook relay and deliveries in a second thread of their own (faster webhooks, about 90 MB more). */
    eventsThread: boolean;
    jobExpireSeconds: number;
  };
  orders: {
    reservationTtlSeconds: number;
    /**
     * Intake answers 503 while the oldest order job has waited this long for a worker: orders
     * accepted into a deeper backlog could not be charged before their reservations expire.
     */
    maxBacklogSeconds: number;
    sweeperCron: string;
    sweeperBatchSize: number;
  };
  payments: {
    providerUrl?: string;
    timeoutMs: number;
    maxAttempts: number;
    /** Charge attempts in flight per process: they wait on the provider, not on a connection. */
    concurrency: number;
    retryDelaySeconds: number;
    retryBackoff: boolean;
    /** The circuit breaker around the provider (opossum): see src/modules/payments/circuit.ts. */
    circuit: {
      enabled: boolean;
      /** Opens when more than this share of the window's calls failed... */
      errorThresholdPercent: number;
      /** ...and the window holds at least this many calls. */
      volumeThreshold: number;
      windowSeconds: number;
      /** How long it stays open before one probe call may go through. */
      resetSeconds: number;
    };
    refunds: {
      /** Refund calls per refund before it is marked failed (deferrals while the circuit is open do not count). */
      maxAttempts: number;
      /** The first retry's delay; each later one doubles (about a day in all with the defaults). */
      retryDelaySeconds: number;
    };
    mock: {
      port: number;
      failureRate: number;
      declineRate: number;
      lostResponseRate: number;
      latencyMs: number;
    };
  };
  webhooks: {
    /** A delivery not answered 2xx within this is failed and retried. */
    timeoutMs: number;
    /** The first retry's delay; each later one doubles, plus up to as much again (pg-boss's backoff). */
    retryDelaySeconds: number;
    /** Attempts per delivery before it is failed (about a day of retries with the defaults). */
    maxAttempts: number;
    /** Deliveries in a row failed for good that disable their endpoint. */
    disableAfterFailures: number;
    /** Deliver to loopback, private and link-local addresses (off in production unless set). */
    allowPrivate: boolean;
    /** Deliveries in flight per process: they wait on the receiver, not on a connection. */
    concurrency: number;
    /** How often the relay looks for undispatched events when no notice woke it (a notice lost to a reconnect). */
    relayIntervalSeconds: number;
  };
  events: {
    /** A comment line this often keeps idle live streams open through proxies. */
    heartbeatSeconds: number;
  };
  inventory: {
    warehouseUrl?: string;
    timeoutMs: number;
    pageSize: number;
    syncCron: string;
    syncMaxAttempts: number;
    syncRetryDelaySeconds: number;
    mock: {
      port: number;
      drift: boolean;
      failureRate: number;
      latencyMs: number;
    };
  };
}

/** A token outlives its client's revocation by at most this (and a refresh of the disabled list). */
const MAX_TOKEN_TTL_S = 24 * 60 * 60;

/** The longest default INTAKE_MAX_BACKLOG_S (see maxBacklogSeconds below). */
const MAX_DEFAULT_BACKLOG_S = 60;

const port = Joi.number().integer().min(0).max(65535).messages({
  'number.base': 'must be a port number',
  'number.integer': 'must be a port number',
  'number.min': 'must be a port number',
  'number.max': 'must be a port number',
});
const rate = Joi.number().min(0).max(1).messages({
  '*': 'must be a number between 0 and 1',
});
/** Express's 'trust proxy' values: true/false, a hop count, or addresses and subnets (comma-separated). */
const trustProxy = Joi.alternatives(
  Joi.boolean().truthy('1', 'yes').falsy('0', 'no'),
  Joi.number().integer().min(0),
  Joi.string().pattern(/^[0-9a-fA-F:./, ]+$|^(loopback|linklocal|uniquelocal)(, *(loopback|linklocal|uniquelocal))*$/),
).messages({ '*': 'must be true, false, a hop count, or comma-separated addresses/subnets (or loopback, linklocal, uniquelocal)' });
const host = Joi.string().hostname().messages({ '*': 'must be an IP address or host name to listen on' });
const positiveInt = Joi.number().integer().min(1).messages({ '*': 'must be a positive integer' });
const nonNegativeInt = Joi.number().integer().min(0).messages({ '*': 'must be a non-negative integer' });
const bool = Joi.boolean().truthy('1', 'yes').falsy('0', 'no').messages({ '*': 'must be true or false' });
const cronExpression = Joi.string().custom((value: string, helpers) => {
  return cron.validate(value) ? value : helpers.error('any.invalid');
}).messages({ 'any.invalid': 'must be a valid cron expression' });
const url = Joi.string().uri({ scheme: ['http', 'https'] }).messages({ '*': 'must be an http(s) URL' });

const schema = Joi.object({
  NODE_ENV: Joi.string().valid('development', 'production', 'test').default('development'),
  ROLE: Joi.string().valid(...ROLES).default('all'),
  PORT: port.default(3000),
  HOST: host,
  METRICS_HOST: host,
  TRUST_PROXY: trustProxy.default(false),
  SERVED_OVER_HTTPS: bool.default(false),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  DATA_DIR: Joi.string().default('.data'),
  MIGRATE_ON_START: bool.default(true),
  BODY_LIMIT: Joi.string().pattern(/^\d+(b|kb|mb)$/i).default('100kb').messages({ 'string.pattern.base': 'must look like 100kb' }),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10000),
  METRICS_PORT: port,

  DATABASE_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }).messages({ '*': 'must be a postgres:// URL' }),
  DB_DIALECT: Joi.string().valid('postgres').messages({ '*': 'must be "postgres" (the only supported dialect)' }),
  DB_HOST: Joi.string(),
  DB_PORT: port.default(5432),
  DB_USER: Joi.string(),
  DB_PASS: Joi.string().allow(''),
  DB_DATABASE: Joi.string(),
  DB_POOL_MAX: positiveInt.default(20),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: nonNegativeInt.default(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS),
  DB_PREPARED_STATEMENTS: bool.default(true),

  JWT_SECRET: Joi.string().min(32).messages({ 'string.min': 'must be at least 32 characters' }),
  TOKEN_TTL_S: Joi.number().integer().min(1).max(MAX_TOKEN_TTL_S).default(3600).messages({ '*': `must be an integer from 1 to ${MAX_TOKEN_TTL_S} (24 h)` }),
  RATE_LIMIT_ORDERS_PER_MINUTE: nonNegativeInt.default(600),
  RATE_LIMIT_TOKEN_PER_IP_PER_MINUTE: nonNegativeInt.default(60),
  RATE_LIMIT_TOKEN_FAILURES_PER_CLIENT_PER_MINUTE: nonNegativeInt.default(10),
  TOKEN_MAX_CONCURRENT_VERIFICATIONS: Joi.number().integer().min(1).max(64).default(4).messages({ '*': 'must be an integer from 1 to 64' }),
  CLIENT_STATUS_REFRESH_S: Joi.number().integer().min(1).max(30).default(10).messages({ '*': 'must be an integer from 1 to 30 (seconds)' }),

  QUEUE_SCHEMA: Joi.string().pattern(/^[a-z_][a-z0-9_]*$/).default(DEFAULT_QUEUE_SCHEMA),
  WORKER_CONCURRENCY: positiveInt.default(8),
  WORKER_BATCH_SIZE: positiveInt.default(25),
  WORKER_POLL_INTERVAL_S: Joi.number().min(0.5).default(0.5).messages({ '*': 'must be a number of seconds, at least 0.5' }),
  WORKER_IDLE_POLL_S: Joi.number().min(0.5).max(60).default(2).messages({ '*': 'must be a number of seconds from 0.5 to 60' }),
  WORKER_THREAD: bool.default(true),
  WORKER_THREAD_NICE: Joi.number().integer().min(0).max(19).default(19).messages({ '*': 'must be an integer from 0 to 19' }),
  WORKER_JOBS: Joi.string().valid(...WORKER_JOBS).default('all').messages({ '*': `must be one of ${WORKER_JOBS.join(', ')}` }),
  EVENTS_THREAD: bool.default(false),
  JOB_EXPIRE_S: positiveInt.default(60),

  RESERVATION_TTL_S: positiveInt.default(900),
  INTAKE_MAX_BACKLOG_S: positiveInt,
  SWEEPER_CRON: cronExpression.default('* * * * *'),
  SWEEPER_BATCH_SIZE: positiveInt.default(200),

  PAYMENT_PROVIDER_URL: url,
  PAYMENT_TIMEOUT_MS: positiveInt.default(3000),
  PAYMENT_MAX_ATTEMPTS: positiveInt.default(5),
  PAYMENT_CONCURRENCY: Joi.number().integer().min(1).max(5000).default(500).messages({ '*': 'must be an integer from 1 to 5000' }),
  PAYMENT_RETRY_DELAY_S: nonNegativeInt.default(2),
  PAYMENT_RETRY_BACKOFF: bool.default(true),
  PAYMENT_CIRCUIT_ENABLED: bool.default(true),
  PAYMENT_CIRCUIT_ERROR_PERCENT: Joi.number().integer().min(1).max(99).default(80).messages({ '*': 'must be an integer from 1 to 99 (percent)' }),
  PAYMENT_CIRCUIT_VOLUME: positiveInt.default(3),
  PAYMENT_CIRCUIT_WINDOW_S: Joi.number().integer().min(1).max(3600).default(30).messages({ '*': 'must be an integer from 1 to 3600 (seconds)' }),
  PAYMENT_CIRCUIT_RESET_S: Joi.number().integer().min(1).max(3600).default(10).messages({ '*': 'must be an integer from 1 to 3600 (seconds)' }),
  REFUND_MAX_ATTEMPTS: Joi.number().integer().min(1).max(16).default(14).messages({ '*': 'must be an integer from 1 to 16' }),
  REFUND_RETRY_DELAY_S: positiveInt.default(5),
  PAYMENT_MOCK_PORT: port.default(4001),
  PAYMENT_FAILURE_RATE: rate.default(0.3),
  PAYMENT_DECLINE_RATE: rate.default(0.05),
  PAYMENT_LOST_RESPONSE_RATE: rate.default(0.05),
  PAYMENT_LATENCY_MS: nonNegativeInt.default(0),

  WEBHOOK_TIMEOUT_MS: Joi.number().integer().min(100).max(60_000).default(10_000).messages({ '*': 'must be an integer from 100 to 60000 (ms)' }),
  WEBHOOK_RETRY_DELAY_S: positiveInt.default(10),
  WEBHOOK_MAX_ATTEMPTS: Joi.number().integer().min(1).max(20).default(13).messages({ '*': 'must be an integer from 1 to 20' }),
  WEBHOOK_DISABLE_AFTER_FAILURES: positiveInt.default(20),
  WEBHOOK_ALLOW_PRIVATE: bool,
  WEBHOOK_CONCURRENCY: Joi.number().integer().min(1).max(2000).default(500).messages({ '*': 'must be an integer from 1 to 2000' }),
  EVENTS_RELAY_INTERVAL_S: Joi.number().min(0.2).max(300).default(5).messages({ '*': 'must be a number of seconds from 0.2 to 300' }),
  LOG_PRETTY: bool,
  OTEL_SDK_DISABLED: bool.default(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: url,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
  OTEL_EXPORTER_OTLP_PROTOCOL: Joi.string().valid('http/json', 'http/protobuf', 'grpc').default('http/protobuf'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Joi.string().valid('http/json', 'http/protobuf', 'grpc'),
  OTEL_TRACES_EXPORTER: Joi.string().pattern(/^(otlp|console|none)(,(otlp|console|none))*$/).messages({ '*': 'must be otlp, console or none (comma-separated)' }),
  SSE_HEARTBEAT_S: Joi.number().integer().min(1).max(300).default(15).messages({ '*': 'must be an integer from 1 to 300 (seconds)' }),

  WAREHOUSE_URL: url,
  WAREHOUSE_TIMEOUT_MS: positiveInt.default(5000),
  WAREHOUSE_PAGE_SIZE: Joi.number().integer().min(1).max(1000).default(1000).messages({ '*': 'must be an integer from 1 to 1000' }),
  INVENTORY_SYNC_CRON: cronExpression.default('*/5 * * * *'),
  INVENTORY_SYNC_MAX_ATTEMPTS: positiveInt.default(3),
  INVENTORY_SYNC_RETRY_DELAY_S: nonNegativeInt.default(30),
  WAREHOUSE_MOCK_PORT: port.default(4002),
  WAREHOUSE_DRIFT: bool.default(false),
  WAREHOUSE_FAILURE_RATE: rate.default(0),
  WAREHOUSE_LATENCY_MS: nonNegativeInt.default(0),
}).unknown(true);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Variables whose values must never reach a log or terminal, even when they are wrong. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(['JWT_SECRET', 'DB_PASS']);

/** The bad value as an error message may show it: secrets by length only, a URL without its password. */
function shownValue(key: string, value: string | undefined): string {
  if (value === undefined) return 'undefined';
  if (SECRET_VARIABLES.has(key)) return `a value of ${value.length} characters (not shown)`;
  // Any URL with credentials (DATABASE_URL, PAYMENT_PROVIDER_URL, ...): everything between "://"
  // and the last "@" is hidden, since a password that breaks the URL may itself hold "/" or "@".
  const url = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(value);
  if (url && url[2].includes('@')) return JSON.stringify(`${url[1]}***${url[2].slice(url[2].lastIndexOf('@'))}`);
  return JSON.stringify(value);
}

/** Reads and validates configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  // Empty strings mean "not set", as in most .env files.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const { value: v, error } = schema.validate(cleaned, { abortEarly: true, convert: true });
  if (error) {
    const detail = error.details[0];
    const key = String(detail.path[0]);
    throw new ConfigError(`${key} ${detail.message.replace(/^"[^"]*" /, '')}, got ${shownValue(key, env[key])}`);
  }

  const production = v.NODE_ENV === 'production';
  if (production) refuseUnsafeProduction(v);

  if (v.INTAKE_MAX_BACKLOG_S !== undefined && v.INTAKE_MAX_BACKLOG_S >= v.RESERVATION_TTL_S) {
    throw new ConfigError(`INTAKE_MAX_BACKLOG_S must be less than RESERVATION_TTL_S (${v.RESERVATION_TTL_S}), got ${v.INTAKE_MAX_BACKLOG_S}`);
  }

  const config: AppConfig = {
    nodeEnv: v.NODE_ENV,
    role: v.ROLE,
    port: v.PORT,
    // Containers publish ports from outside: there the default must be every interface.
    host: v.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    production,
    logLevel: v.LOG_LEVEL,
    logPretty: v.LOG_PRETTY ?? (v.NODE_ENV === 'development' && process.stdout.isTTY === true),
    tracing: {
      enabled: tracingWanted(v),
      protocol: v.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? v.OTEL_EXPORTER_OTLP_PROTOCOL,
    },
    // Relative to the project root, as config/config.js reads it, whatever the working directory.
    dataDir: path.resolve(ROOT_DIR, v.DATA_DIR),
    migrateOnStart: v.MIGRATE_ON_START,
    bodyLimit: v.BODY_LIMIT,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST ?? v.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    http: {
      trustProxy: v.TRUST_PROXY,
      servedOverHttps: v.SERVED_OVER_HTTPS,
    },
    db: {
      url: v.DATABASE_URL,
      host: v.DB_HOST,
      port: v.DB_PORT,
      user: v.DB_USER,
      password: v.DB_PASS,
      database: v.DB_DATABASE,
      poolMax: v.DB_POOL_MAX,
      preparedStatements: v.DB_PREPARED_STATEMENTS,
      idleInTransactionTimeoutMs: v.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    auth: {
      jwtSecret: v.JWT_SECRET,
      tokenTtlSeconds: v.TOKEN_TTL_S,
      orderRateLimitPerMinute: v.RATE_LIMIT_ORDERS_PER_MINUTE,
      tokenRateLimitPerIpPerMinute: v.RATE_LIMIT_TOKEN_PER_IP_PER_MINUTE,
      tokenRateLimitPerClientPerMinute: v.RATE_LIMIT_TOKEN_FAILURES_PER_CLIENT_PER_MINUTE,
      maxConcurrentVerifications: v.TOKEN_MAX_CONCURRENT_VERIFICATIONS,
      clientStatusRefreshSeconds: v.CLIENT_STATUS_REFRESH_S,
    },
    queue: {
      schema: v.QUEUE_SCHEMA,
      workers: v.WORKER_CONCURRENCY,
      batchSize: v.WORKER_BATCH_SIZE,
      pollingIntervalSeconds: v.WORKER_POLL_INTERVAL_S,
      idlePollSeconds: v.WORKER_IDLE_POLL_S,
      thread: v.WORKER_THREAD,
      threadNice: v.WORKER_THREAD_NICE,
      jobs: v.WORKER_JOBS,
      eventsThread: v.EVENTS_THREAD,
      jobExpireSeconds: v.JOB_EXPIRE_S,
    },
    orders: {
      reservationTtlSeconds: v.RESERVATION_TTL_S,
      // A third of the TTL leaves the other two for the charge's own wait and its retries; at most
      // a minute, because pg-boss sorts every ready job on each fetch: a deeper backlog slows the
      // very workers that must drain it (measured: 34,000 waiting charge jobs, 46 ms per fetch).
      maxBacklogSeconds: v.INTAKE_MAX_BACKLOG_S ?? Math.max(1, Math.min(MAX_DEFAULT_BACKLOG_S, Math.floor(v.RESERVATION_TTL_S / 3))),
      sweeperCron: v.SWEEPER_CRON,
      sweeperBatchSize: v.SWEEPER_BATCH_SIZE,
    },
    payments: {
      providerUrl: v.PAYMENT_PROVIDER_URL,
      timeoutMs: v.PAYMENT_TIMEOUT_MS,
      maxAttempts: v.PAYMENT_MAX_ATTEMPTS,
      concurrency: v.PAYMENT_CONCURRENCY,
      retryDelaySeconds: v.PAYMENT_RETRY_DELAY_S,
      retryBackoff: v.PAYMENT_RETRY_BACKOFF,
      circuit: {
        enabled: v.PAYMENT_CIRCUIT_ENABLED,
        errorThresholdPercent: v.PAYMENT_CIRCUIT_ERROR_PERCENT,
        volumeThreshold: v.PAYMENT_CIRCUIT_VOLUME,
        windowSeconds: v.PAYMENT_CIRCUIT_WINDOW_S,
        resetSeconds: v.PAYMENT_CIRCUIT_RESET_S,
      },
      refunds: {
        maxAttempts: v.REFUND_MAX_ATTEMPTS,
        retryDelaySeconds: v.REFUND_RETRY_DELAY_S,
      },
      mock: {
        port: v.PAYMENT_MOCK_PORT,
        failureRate: v.PAYMENT_FAILURE_RATE,
        declineRate: v.PAYMENT_DECLINE_RATE,
        lostResponseRate: v.PAYMENT_LOST_RESPONSE_RATE,
        latencyMs: v.PAYMENT_LATENCY_MS,
      },
    },
    webhooks: {
      timeoutMs: v.WEBHOOK_TIMEOUT_MS,
      retryDelaySeconds: v.WEBHOOK_RETRY_DELAY_S,
      maxAttempts: v.WEBHOOK_MAX_ATTEMPTS,
      disableAfterFailures: v.WEBHOOK_DISABLE_AFTER_FAILURES,
      // A production service must not be made to call into its own network by whoever registers a URL.
      allowPrivate: v.WEBHOOK_ALLOW_PRIVATE ?? !production,
      concurrency: v.WEBHOOK_CONCURRENCY,
      relayIntervalSeconds: v.EVENTS_RELAY_INTERVAL_S,
    },
    events: {
      heartbeatSeconds: v.SSE_HEARTBEAT_S,
    },
    inventory: {
      warehouseUrl: v.WAREHOUSE_URL,
      timeoutMs: v.WAREHOUSE_TIMEOUT_MS,
      pageSize: v.WAREHOUSE_PAGE_SIZE,
      syncCron: v.INVENTORY_SYNC_CRON,
      syncMaxAttempts: v.INVENTORY_SYNC_MAX_ATTEMPTS,
      syncRetryDelaySeconds: v.INVENTORY_SYNC_RETRY_DELAY_S,
      mock: {
        port: v.WAREHOUSE_MOCK_PORT,
        drift: v.WAREHOUSE_DRIFT,
        failureRate: v.WAREHOUSE_FAILURE_RATE,
        latencyMs: v.WAREHOUSE_LATENCY_MS,
      },
    },
  };
  return deepFreeze(config);
}

/**
 * Tracing is on when something would receive the spans: an OTLP endpoint, or an exporter named
 * in OTEL_TRACES_EXPORTER other than none; OTEL_SDK_DISABLED=true turns it off whatever else is set.
 */
function tracingWanted(v: Record<string, unknown>): boolean {
  if (v.OTEL_SDK_DISABLED) return false;
  const exporters = typeof v.OTEL_TRACES_EXPORTER === 'string' ? v.OTEL_TRACES_EXPORTER.split(',') : ['otlp'];
  if (exporters.every((e) => e === 'none')) return false;
  if (exporters.includes('console')) return true;
  return Boolean(v.OTEL_EXPORTER_OTLP_ENDPOINT || v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Production never falls back to a convenience: no generated JWT secret, no embedded database,
 * no mock payment provider or warehouse. Each missing setting stops start-up with its name.
 */
function refuseUnsafeProduction(v: Record<string, unknown>): void {
  const missing = (name: string, why: string) => new ConfigError(`${name} must be set when NODE_ENV=production (${why}), got undefined`);
  if (!v.JWT_SECRET) throw missing('JWT_SECRET', 'at least 32 characters; tokens signed with a generated key would not survive a restart');
  if (!v.DATABASE_URL && !v.DB_HOST) throw missing('DATABASE_URL', 'or DB_HOST; production never starts the embedded PostgreSQL');
  if (v.ROLE !== 'api') {
    if (!v.PAYMENT_PROVIDER_URL) throw missing('PAYMENT_PROVIDER_URL', `ROLE=${String(v.ROLE)} runs workers, and production never starts the mock provider`);
    if (!v.WAREHOUSE_URL) throw missing('WAREHOUSE_URL', `ROLE=${String(v.ROLE)} runs workers, and production never starts the mock warehouse`);
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}

/** For tools that must refuse production before they need any other setting (the standalone mocks). */
export function isProductionEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'production';
}

/** For entry points: the configuration, or one line naming the bad variable on stderr and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
