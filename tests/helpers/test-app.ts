import type { Express } from 'express';
import request from 'supertest';
import { QueryTypes } from 'sequelize';
import { buildApp } from '../../src/app';
import { loadConfig, type AppConfig } from '../../src/config';
import type { AppContext } from '../../src/context';
import { createSequelize } from '../../src/db/sequelize';
import { registerModels } from '../../src/db/models';
import { Category, Product } from '../../src/modules/catalog';
import { Order, OrderItem, OrderLog } from '../../src/modules/orders';
import { buildPaymentProviderMock } from '../../src/mocks/payment-provider';
import { createPaymentAdapter } from '../../src/modules/payments';
import { TokenService, type Principal } from '../../src/modules/auth';
import { JobQueue } from '../../src/queue/job-queue';
import { EventHub } from '../../src/modules/events';
import { listen, type RunningServer } from '../../src/shared/http-server';
import { createLogger, type Logger } from '../../src/shared/logger';
import { startWorkers, type RunningWorkers } from '../../src/workers';
import { createTestDatabase, type TestDatabase } from './test-db';

/** Fast settings for tests: short retry delays, quick polling, a payment mock that never fails unless told to. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  PAYMENT_MAX_ATTEMPTS: '3',
  PAYMENT_RETRY_DELAY_S: '0',
  PAYMENT_RETRY_BACKOFF: 'false',
  PAYMENT_TIMEOUT_MS: '1000',
  PAYMENT_FAILURE_RATE: '0',
  PAYMENT_DECLINE_RATE: '0',
  PAYMENT_LOST_RESPONSE_RATE: '0',
  WORKER_POLL_INTERVAL_S: '0.5',
  WORKER_CONCURRENCY: '2',
  WORKER_BATCH_SIZE: '20',
  DB_POOL_MAX: '10',
  JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-000',
  RATE_LIMIT_ORDERS_PER_MINUTE: '0',
};

export interface TestApp {
  app: Express;
  http: ReturnType<typeof request.agent>;
  anonymous: ReturnType<typeof request>;
  tokenFor(principal: Principal): Promise<string>;
  ctx: AppContext;
  config: AppConfig;
  db: TestDatabase;
  payments: ReturnType<typeof buildPaymentProviderMock>;
  paymentServer: RunningServer;
  workers?: RunningWorkers;
  query<T extends object = Record<string, unknown>>(sql: string, bind?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/**
 * The real app on this test file's own database, with real pg-boss and a real HTTP
 * payment provider mock; `workers: true` also runs the job workers in-process.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; workers?: boolean; warehouseUrl?: string; paymentProviderUrl?: string; logger?: Logger } = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const env = { ...TEST_ENV, ...options.env, DATABASE_URL: db.url };
  const config = loadConfig(env);
  const logger = options.logger ?? createLogger(config.logLevel);
  const payments = buildPaymentProviderMock({ ...config.payments.mock, hangMs: config.payments.timeoutMs + 500 });
  const paymentServer = await listen(payments.app, 0);
  const sequelize = registerModels(createSequelize(db.url, { poolMax: config.db.poolMax, preparedStatements: config.db.preparedStatements, idleInTransactionTimeoutMs: config.db.idleInTransactionTimeoutMs, logger }));
  const queue = new JobQueue(config, sequelize, db.url, logger);
  await queue.start();
  const eventHub = new EventHub(db.url, logger);
  const ctx: AppContext = {
    config,
    logger,
    sequelize,
    queue,
    eventHub,
    payments: createPaymentAdapter(config, options.paymentProviderUrl ?? paymentServer.url, logger),
    tokens: new TokenService(config.auth.jwtSecret!, config.auth.tokenTtlSeconds, { clientStatusRefreshSeconds: config.auth.clientStatusRefreshSeconds }),
    warehouseUrl: options.warehouseUrl,
    paymentProviderUrl: paymentServer.url,
    // The test's own mocks stand in for the ones ROLE=all starts in development.
    mocksInProcess: { payments: true, warehouse: options.warehouseUrl !== undefined },
  };
  const workers = options.workers ? await startWorkers(ctx) : undefined;
  const app = buildApp(ctx);
  const adminToken = await ctx.tokens.issue({ clientId: 'test-admin', role: 'admin', customerId: null });
  return {
    app,
    // Most tests act as an admin client; auth tests use `anonymous` and `tokenFor`.
    http: request.agent(app).set('Authorization', `Bearer ${adminToken}`),
    anonymous: request(app),
    tokenFor: (principal: Principal) => ctx.tokens.issue(principal),
    ctx,
    config,
    db,
    payments,
    paymentServer,
    workers,
    query: <T extends object>(sql: string, bind: unknown[] = []) => sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT }),
    stop: async () => {
      await workers?.stop();
      await eventHub.stop();
      await queue.stop();
      await sequelize.close();
      await paymentServer.close();
      await db.drop();
    },
  };
}

let skuCounter = 0;
/** Creates a product (through the catalog's model) with a SKU unique to this test and returns it. */
export async function createProduct(
  fields: { stock?: number; priceCents?: number; currency?: string; lowStockThreshold?: number; category?: string; sku?: string } = {},
): Promise<{ id: number; sku: string; price_cents: number }> {
  skuCounter += 1;
  const sku = fields.sku ?? `T-${process.pid}-${Date.now().toString(36)}-${skuCounter}`;
  const product = await Product.create({
    sku,
    name: `Test product ${sku}`,
    priceCents: fields.priceCents ?? 1250,
    currency: fields.currency ?? 'EUR',
    stockOnHand: fields.stock ?? 100,
    lowStockThreshold: fields.lowStockThreshold ?? 0,
    category: fields.category ?? null,
  });
  return { id: product.id, sku: product.sku, price_cents: product.priceCents };
}

/** Polls until `check` returns a value or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

/** Polls GET /orders/:id until the order is completed, failed or cancelled; returns it as the API shows it. */
export async function waitForTerminal(t: TestApp, orderId: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const res = await t.http.get(`/orders/${orderId}`);
    return ['completed', 'failed', 'cancelled'].includes(res.body.order?.status) ? res.body.order : null;
  }, timeoutMs);
}

/** What a refused request must leave untouched: order rows, jobs, reserved stock and categories. */
export async function rowCounts(t: TestApp) {
  const jobs = (await t.ctx.queue.inspect.countsByQueueAndState()).reduce((sum, c) => sum + c.count, 0);
  return {
    orders: await Order.count(),
    items: await OrderItem.count(),
    logs: await OrderLog.count(),
    jobs,
    reserved: await Product.sum('stockReserved'),
    categories: await Category.count(),
  };
}
