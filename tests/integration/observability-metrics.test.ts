import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { reserveStock } from '../../src/modules/inventory';
import { Order } from '../../src/modules/orders';
import { QueueStats } from '../../src/observability/queue-stats';
import { QueueInspector } from '../../src/queue/inspect';
import { buildMetricsApp, startMetricsServer } from '../../src/observability/routes';
import { startService } from '../../src/service';
import { createLogger } from '../../src/shared/logger';
import { createTestDatabase } from '../helpers/test-db';
import { createProduct, eventually, startTestApp, TEST_ENV, type TestApp } from '../helpers/test-app';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (enough of it for these tests: no escaped quotes in label values). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of one series (0 when absent, as a counter that has not been touched yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.reduce((sum, s) => sum + s.value, 0);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('Prometheus metrics', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    t = await startTestApp({
      workers: true,
      warehouseUrl: warehouse.url,
      env: { INVENTORY_SYNC_CRON: '0 0 1 1 *', INVENTORY_SYNC_MAX_ATTEMPTS: '1', WAREHOUSE_TIMEOUT_MS: '500' },
    });
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    return parse(res.text);
  }

  async function finished(orderId: string): Promise<{ status: string }> {
    return eventually(async () => {
      const res = await t.http.get(`/orders/${orderId}`);
      return ['completed', 'failed', 'cancelled'].includes(res.body.order?.status) ? res.body.order : null;
    });
  }

  it('when /metrics is asked without a token, then 401; with a customer token, then 403; with an admin token, then the text format', async () => {
    expect((await t.anonymous.get('/metrics')).status).toBe(401);
    const customer = await t.tokenFor({ clientId: 'shop-metrics', role: 'customer', customerId: 'cust_metrics' });
    const forbidden = await t.anonymous.get('/metrics').set('Authorization', `Bearer ${customer}`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('FORBIDDEN');

    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE orderloop_process_cpu_user_seconds_total counter');
  });

  it('when the path differs only in letter case, then the admin-only policy still applies', async () => {
    const customer = await t.tokenFor({ clientId: 'shop-metrics', role: 'customer', customerId: 'cust_metrics' });
    for (const path of ['/Metrics', '/METRICS/', '/Admin/overview', '/INVENTORY/syncs']) {
      const res = await t.anonymous.get(path).set('Authorization', `Bearer ${customer}`);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
  });

  it('when an order completes, then the order, payment, HTTP and queue metrics count it, and no label holds an id', async () => {
    const product = await createProduct({ stock: 5, lowStockThreshold: 4 });
    const before = await scrape();

    const created = await t.http.post('/orders/create').send({ customerId: 'cust_metrics', items: [{ sku: product.sku, quantity: 2 }] });
    expect(created.status).toBe(202);
    const orderId: string = created.body.order.id;
    expect((await finished(orderId)).status).toBe('completed');
    expect((await t.http.get(`/orders/${randomUUID()}`)).status).toBe(404);
    expect((await t.http.get(`/no/such/path/${orderId}`)).status).toBe(404);

    // The job counts are cached for a second or so: wait for a scrape that has read them anew.
    const after = await eventually(async () => {
      const samples = await scrape();
      return valueOf(samples, 'orderloop_queue_jobs', { queue: 'order-charge', state: 'completed' }) >= 1 ? samples : null;
    });
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(delta('orderloop_orders_created_total')).toBe(1);
    expect(delta('orderloop_orders_finished_total', { status: 'completed', reason: 'none' })).toBe(1);
    expect(delta('orderloop_order_duration_seconds_count', { status: 'completed' })).toBe(1);
    expect(delta('orderloop_payment_attempts_total', { outcome: 'succeeded' })).toBe(1);
    expect(delta('orderloop_low_stock_events_total')).toBe(1);
    expect(delta('orderloop_http_request_duration_seconds_count', { route: '/orders/create', method: 'POST', status: '202' })).toBe(1);
    expect(delta('orderloop_http_request_duration_seconds_count', { route: '/orders/:id', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(delta('orderloop_http_request_duration_seconds_count', { route: '/orders/:id', method: 'GET', status: '404' })).toBe(1);
    expect(delta('orderloop_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(valueOf(after, 'orderloop_http_request_duration_seconds_count', { route: '/metrics', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'orderloop_http_request_duration_seconds_count', { route: 'unmatched', status: '401' })).toBeGreaterThanOrEqual(1);

    // Jobs per queue and state, from pg-boss, every queue present (dead letter included) even at 0.
    const jobs = after.filter((s) => s.name === 'orderloop_queue_jobs');
    expect(new Set(jobs.map((s) => s.labels.queue))).toEqual(new Set(['order-reserve', 'order-charge', 'order-charge-dead', 'order-refund', 'reservation-sweep', 'inventory-sync', 'webhook-deliver']));
    expect(new Set(jobs.map((s) => s.labels.state))).toEqual(new Set(['created', 'retry', 'active', 'completed', 'failed', 'cancelled']));
    expect(valueOf(after, 'orderloop_queue_jobs', { queue: 'order-reserve', state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'orderloop_queue_jobs', { queue: 'order-charge', state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(jobs.find((s) => s.labels.queue === 'order-charge-dead' && s.labels.state === 'created')?.value).toBe(0);

    // Low cardinality: no label value is an id or a raw URL.
    for (const sample of after) {
      for (const value of Object.values(sample.labels)) {
        expect({ series: sample.name, value, hasId: UUID.test(value) || value.includes(orderId) }).toEqual({ series: sample.name, value, hasId: false });
      }
    }
    const routes = new Set(after.filter((s) => s.name === 'orderloop_http_request_duration_seconds_count').map((s) => s.labels.route));
    expect([...routes].filter((r) => r !== 'unmatched' && !r.startsWith('/'))).toEqual([]);
  });

  it('when the pg-boss job counts are asked for again within the cache time, then one query answers both; a failed read is not kept', async () => {
    const stats = new QueueStats(t.ctx.queue.inspect, 60_000);
    const spy = jest.spyOn(t.ctx.queue.inspect, 'countsByQueueAndState');
    try {
      const [a, b] = await Promise.all([stats.counts(), stats.counts()]);
      const c = await stats.counts();
      expect(b).toBe(a);
      expect(c).toBe(a);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(a).toContainEqual({ queue: 'order-charge-dead', state: 'created', count: expect.any(Number) });
    } finally {
      spy.mockRestore();
    }

    const brokenInspector = new QueueInspector(t.ctx.queue.boss, 'no_such_schema');
    const failing = new QueueStats(brokenInspector, 60_000);
    await expect(failing.counts()).rejects.toThrow(/no_such_schema/);
    const again = jest.spyOn(brokenInspector, 'countsByQueueAndState');
    try {
      await expect(failing.counts()).rejects.toThrow();
      expect(again).toHaveBeenCalledTimes(1);
    } finally {
      again.mockRestore();
    }
  });

  it('when an inventory sync finds a shortfall, and when one fails, then runs are counted by status and shortfalls by SKU', async () => {
    const product = await createProduct({ stock: 20 });
    const orderId = randomUUID();
    await t.ctx.sequelize.transaction(async (transaction) => {
      await Order.create({ id: orderId, customerId: 'cust_metrics', status: 'reserved', totalCents: '0', currency: 'EUR' }, { transaction });
      const result = await reserveStock(t.ctx.sequelize, orderId, [{ productId: product.id, sku: product.sku, quantity: 8 }], new Date(Date.now() + 3_600_000), transaction);
      expect(result.ok).toBe(true);
    });
    warehouse.warehouse.set(product.sku, 3);
    const before = await scrape();

    const runOf = async (jobId: string) =>
      eventually(async () => {
        const { body } = await t.http.get('/inventory/syncs').query({ jobId });
        return (body.syncs as Array<{ status: string }>).find((run) => run.status !== 'running');
      });
    const ok = await t.http.post('/inventory/sync');
    expect(ok.status).toBe(202);
    expect((await runOf(ok.body.jobId)).status).toBe('succeeded');

    warehouse.warehouse.settings.failPage = 1;
    try {
      const bad = await t.http.post('/inventory/sync');
      expect((await runOf(bad.body.jobId)).status).toBe('failed');
    } finally {
      warehouse.warehouse.settings.failPage = null;
    }

    const after = await eventually(async () => {
      const samples = await scrape();
      return valueOf(samples, 'orderloop_inventory_sync_runs_total', { status: 'failed', trigger: 'manual' }) > valueOf(before, 'orderloop_inventory_sync_runs_total', { status: 'failed', trigger: 'manual' }) ? samples : null;
    });
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(delta('orderloop_inventory_sync_runs_total', { status: 'succeeded', trigger: 'manual' })).toBe(1);
    expect(delta('orderloop_inventory_sync_runs_total', { status: 'failed', trigger: 'manual' })).toBe(1);
    expect(delta('orderloop_inventory_shortfalls_total')).toBe(1);
    expect(delta('orderloop_inventory_sync_duration_seconds_count', { status: 'succeeded' })).toBe(1);
  });

  it('when a metrics server runs for the service, then it answers GET /metrics without a token and nothing else', async () => {
    const server = await startMetricsServer(t.ctx, 0, '127.0.0.1');
    try {
      const res = await request(server.url).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toContain('orderloop_orders_created_total');
      expect(res.text).toContain('orderloop_queue_jobs{queue="order-charge-dead",state="created"}');
      expect((await request(server.url).get('/orders')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('when the job counts cannot be read, then /metrics still answers, without the job series', async () => {
    const broken = { ...t.ctx, queue: Object.assign(Object.create(t.ctx.queue), { inspect: new QueueInspector(t.ctx.queue.boss, 'no_such_schema') }) };
    const res = await request(buildMetricsApp(broken)).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('orderloop_orders_created_total');
    expect(res.text).not.toMatch(/^orderloop_queue_jobs\{/m);
  });

  it('when the service starts with METRICS_PORT, then that port serves /metrics without auth while the API port still asks for a token', async () => {
    const db = await createTestDatabase();
    const config = loadConfig({ ...TEST_ENV, DATABASE_URL: db.url, ROLE: 'api', PORT: '0', METRICS_PORT: '0' });
    const service = await startService(config, createLogger('silent'));
    try {
      expect(service.metrics).toBeDefined();
      const open = await request(service.metrics!.url).get('/metrics');
      expect(open.status).toBe(200);
      expect(open.text).toContain('orderloop_http_request_duration_seconds');
      expect((await request(service.http!.url).get('/metrics')).status).toBe(401);
    } finally {
      await service.stop();
      await db.drop();
    }
  });

  it('when METRICS_PORT is not a port, then the configuration is refused naming it', () => {
    expect(() => loadConfig({ ...TEST_ENV, METRICS_PORT: 'abc' })).toThrow('METRICS_PORT must be a port number, got "abc"');
    expect(loadConfig({ ...TEST_ENV }).metricsPort).toBeUndefined();
    expect(loadConfig({ ...TEST_ENV, METRICS_PORT: '9464' }).metricsPort).toBe(9464);
  });
});
