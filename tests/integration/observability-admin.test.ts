import { randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { errorMiddleware } from '../../src/http/error-middleware';
import { startWarehouseMock, type RunningWarehouseMock } from '../../src/mocks/warehouse';
import { reserveStock, SyncRunner } from '../../src/modules/inventory';
import { Order } from '../../src/modules/orders';
import { adminRouter } from '../../src/modules/admin';
import { buildApp } from '../../src/app';
import { QUEUES } from '../../src/queue/queues';
import { createProduct, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * The dashboard's page and its admin JSON API. No workers run here, so what the queues and the
 * orders hold is exactly what each test put there.
 */
describe('dashboard page and admin API', () => {
  let t: TestApp;
  let warehouse: RunningWarehouseMock;
  let customer: string;

  beforeAll(async () => {
    warehouse = await startWarehouseMock({ drift: false, failureRate: 0, latencyMs: 0 }, 0, { seed: false });
    t = await startTestApp({ warehouseUrl: warehouse.url });
    customer = await t.tokenFor({ clientId: 'shop-admin-test', role: 'customer', customerId: 'cust_admin' });
  });
  afterAll(async () => {
    await t.stop();
    await warehouse.close();
  });

  describe('the page', () => {
    it('when /dashboard is opened without a token, then the page, its script and its stylesheet load, under a CSP without inline code', async () => {
      const page = await t.anonymous.get('/dashboard');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('<script type="module" src="/dashboard/js/main.mjs"></script>');
      expect(page.text).not.toMatch(/<script>|<style>|\son[a-z]+="/i);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect((await t.anonymous.get('/dashboard/')).status).toBe(200);

      // A module script is refused by browsers unless it comes as JavaScript: the page's module and every module it imports, at any depth.
      const seen = new Set<string>();
      const pending = ['main.mjs'];
      while (pending.length) {
        const file = pending.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        const js = await t.anonymous.get(`/dashboard/js/${file}`);
        expect({ file, status: js.status, type: js.headers['content-type'] }).toEqual({ file, status: 200, type: expect.stringMatching(/javascript/) });
        pending.push(...[...js.text.matchAll(/from '\.\/([a-z-]+\.mjs)'/g)].map((m) => m[1]));
      }
      expect(seen.size).toBeGreaterThan(5);
      const css = await t.anonymous.get('/dashboard/dashboard.css');
      expect(css.status).toBe(200);
      expect(css.headers['content-type']).toMatch(/^text\/css/);
    });

    it('when a file outside the dashboard folder or a missing one is asked for, then 401 or 404, never its content', async () => {
      expect((await t.anonymous.get('/dashboard/nothing-here.js')).status).toBe(401); // falls through to the authenticated API
      const missing = await t.http.get('/dashboard/nothing-here.js');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
      for (const path of ['/dashboard/../app.ts', '/dashboard/%2e%2e/app.ts', '/dashboard/..%2fapp.ts']) {
        const res = await t.http.get(path);
        expect({ path, status: res.status, leaked: res.text.includes('buildApp') }).toEqual({ path, status: expect.any(Number), leaked: false });
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    });
  });

  describe('who may call it', () => {
    it('when /admin endpoints are called without a token or with a customer token, then 401 and 403', async () => {
      for (const [method, path] of [['get', '/admin/overview'], ['get', '/admin/stock'], ['get', '/admin/mocks/payments/config'], ['put', '/admin/mocks/payments/config'], ['put', '/admin/mocks/warehouse/stock/ABC']] as const) {
        expect({ path, status: (await t.anonymous[method](path)).status }).toEqual({ path, status: 401 });
        const res = await t.anonymous[method](path).set('Authorization', `Bearer ${customer}`).send({ failureRate: 0.5 });
        expect({ path, status: res.status }).toEqual({ path, status: 403 });
      }
      expect(t.payments.settings.failureRate).toBe(0);
    });
  });

  describe('GET /admin/overview', () => {
    it('when orders were taken and one cancelled, then the last hour per minute and the orders in flight count them', async () => {
      const product = await createProduct({ stock: 50 });
      const before = (await t.http.get('/admin/overview')).body;
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const res = await t.http.post('/orders').send({ customerId: 'cust_admin', items: [{ sku: product.sku, quantity: 1 }] });
        expect(res.status).toBe(202);
        ids.push(res.body.order.id);
      }
      expect((await t.http.post(`/orders/${ids[0]}/cancel`)).status).toBe(200);

      const res = await t.http.get('/admin/overview');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const { orders } = res.body;
      expect(orders.perMinute).toHaveLength(60);
      const minutes = orders.perMinute.map((b: { minute: string }) => Date.parse(b.minute));
      expect(minutes.every((m: number, i: number) => i === 0 || m - minutes[i - 1] === 60_000)).toBe(true);
      expect(orders.lastHour.created - before.orders.lastHour.created).toBe(3);
      expect(orders.lastHour.open - before.orders.lastHour.open).toBe(2);
      expect(orders.lastHour.cancelled - before.orders.lastHour.cancelled).toBe(1);
      const sum = (key: string) => orders.perMinute.reduce((n: number, b: Record<string, number>) => n + b[key], 0);
      expect(sum('open')).toBe(orders.lastHour.open);
      expect(sum('cancelled')).toBe(orders.lastHour.cancelled);
      expect(orders.inFlight.pending - before.orders.inFlight.pending).toBe(2);
    });

    it('when jobs wait, fail, or reach the dead-letter queue, then the queue depths and the failed-job list show them', async () => {
      const boss = t.ctx.queue.boss;
      // A waiting sweep job, failed by hand: pg-boss's own fail(), as a worker's throw would.
      const sweepId = await t.ctx.queue.send(QUEUES.RESERVATION_SWEEP, {});
      const [fetched] = (await boss.fetch(QUEUES.RESERVATION_SWEEP)) ?? [];
      expect(fetched?.id).toBe(sweepId);
      await boss.fail(QUEUES.RESERVATION_SWEEP, sweepId, new Error('sweep exploded on purpose'));
      const orderId = randomUUID();
      await t.ctx.queue.send(QUEUES.ORDER_CHARGE_DEAD, { orderId });

      // The job counts are cached for 1.5 s.
      await new Promise((resolve) => setTimeout(resolve, 1600));
      const res = await t.http.get('/admin/overview');
      const queue = (name: string) => res.body.queues.find((q: { name: string }) => q.name === name);
      expect(res.body.queues.map((q: { name: string }) => q.name)).toEqual(['order-reserve', 'order-charge', 'order-charge-dead', 'order-refund', 'reservation-sweep', 'inventory-sync', 'webhook-deliver']);
      expect(queue('order-charge-dead')).toMatchObject({ deadLetter: true, counts: expect.objectContaining({ created: 1 }) });
      expect(queue('reservation-sweep').counts.failed).toBe(1);

      expect(res.body.failedJobs).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: sweepId, queue: 'reservation-sweep', state: 'failed', error: 'sweep exploded on purpose', finishedAt: expect.any(String) }),
          expect.objectContaining({ queue: 'order-charge-dead', state: 'created', orderId }),
        ]),
      );
      // The error is the message only: no stack trace leaves pg-boss's output column.
      expect(JSON.stringify(res.body.failedJobs)).not.toContain('    at ');
    });

    it('when an inventory sync found a shortfall, then the last syncs list it with its SKU', async () => {
      const product = await createProduct({ stock: 20 });
      await t.ctx.sequelize.transaction(async (transaction) => {
        const orderId = randomUUID();
        await Order.create({ id: orderId, customerId: 'cust_admin', status: 'reserved', totalCents: '0', currency: 'EUR' }, { transaction });
        await reserveStock(t.ctx.sequelize, orderId, [{ productId: product.id, sku: product.sku, quantity: 8 }], new Date(Date.now() + 3_600_000), transaction);
      });
      warehouse.warehouse.set(product.sku, 3);
      const summary = await new SyncRunner(t.ctx).run({ trigger: 'manual' });

      const res = await t.http.get('/admin/overview');
      expect(res.body.syncs[0]).toMatchObject({
        id: summary!.runId,
        trigger: 'manual',
        status: 'succeeded',
        shortfallCount: 1,
        shortfalls: [{ sku: product.sku, short: 5, warehouse: 3, reserved: 8 }],
        error: null,
      });
    });
  });

  describe('GET /admin/stock', () => {
    it('when some products are at or under their threshold, then they come first, marked low, with the counts', async () => {
      const ok = await createProduct({ stock: 100, lowStockThreshold: 5, sku: `AAA-OK-${Date.now()}` });
      const low = await createProduct({ stock: 4, lowStockThreshold: 5, sku: `ZZZ-LOW-${Date.now()}` });
      const res = await t.http.get('/admin/stock').query({ limit: 500 });
      expect(res.status).toBe(200);
      const products: Array<{ sku: string; low: boolean; available: number }> = res.body.products;
      const firstNotLow = products.findIndex((p) => !p.low);
      expect(products.slice(firstNotLow).every((p) => !p.low)).toBe(true);
      expect(products.find((p) => p.sku === low.sku)).toMatchObject({ low: true, available: 4, onHand: 4, reserved: 0, lowStockThreshold: 5 });
      expect(products.find((p) => p.sku === ok.sku)).toMatchObject({ low: false, available: 100 });
      expect(res.body.low).toBe(products.filter((p) => p.low).length);
      expect(res.body.total).toBe(products.length);
      expect((await t.http.get('/admin/stock').query({ limit: 0 })).status).toBe(400);
    });
  });

  describe('demo controls', () => {
    afterEach(() => {
      Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, latencyMs: 0, down: false });
    });

    it('when the payment mock is read and changed through the admin API, then the provider this service charges changes', async () => {
      const read = await t.http.get('/admin/mocks/payments/config');
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ url: t.paymentServer.url, config: { failureRate: 0, declineRate: 0, down: false } });

      const changed = await t.http.put('/admin/mocks/payments/config').send({ failureRate: 0.5, declineRate: 0.25, latencyMs: 10, down: true });
      expect(changed.status).toBe(200);
      expect(changed.body.config).toMatchObject({ failureRate: 0.5, declineRate: 0.25, latencyMs: 10, down: true });
      expect(t.payments.settings).toMatchObject({ failureRate: 0.5, declineRate: 0.25, latencyMs: 10, down: true });
    });

    it('when the change is not valid, then 400 naming the field, and the provider is left as it was', async () => {
      for (const body of [{ failureRate: 2 }, { hangMs: 1 }, {}, { latencyMs: -1 }, { down: 'yes' }]) {
        const res = await t.http.put('/admin/mocks/payments/config').send(body);
        expect({ body, status: res.status, code: res.body.error.code }).toEqual({ body, status: 400, code: 'VALIDATION_FAILED' });
      }
      expect(t.payments.settings).toMatchObject({ failureRate: 0, declineRate: 0, latencyMs: 0, down: false });
    });

    it('when a warehouse level is set through the admin API, then the warehouse reports it, and bad input is refused', async () => {
      const set = await t.http.put('/admin/mocks/warehouse/stock/DEMO-SKU-1').send({ quantity: 42 });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ sku: 'DEMO-SKU-1', quantity: 42 });
      expect(warehouse.warehouse.stock.get('DEMO-SKU-1')?.quantity).toBe(42);
      expect((await t.http.get('/admin/mocks/warehouse/stock/DEMO-SKU-1')).body).toMatchObject({ quantity: 42 });

      expect((await t.http.get('/admin/mocks/warehouse/stock/NOT-THERE')).status).toBe(404);
      expect((await t.http.put('/admin/mocks/warehouse/stock/DEMO-SKU-1').send({ quantity: -1 })).status).toBe(400);
      expect((await t.http.put('/admin/mocks/warehouse/stock/DEMO-SKU-1').send({ quantity: '5' })).status).toBe(400);
      expect((await t.http.put('/admin/mocks/warehouse/stock/a%20b').send({ quantity: 1 })).status).toBe(400);
      expect(warehouse.warehouse.stock.get('DEMO-SKU-1')?.quantity).toBe(42);
    });

    it('when the process has no warehouse, or the provider does not answer, then 404 and 503 with a message, not a 500', async () => {
      // The mocks are said to run here (so their routes are mounted) but have no URL, or a dead one.
      const ctx = { ...t.ctx, warehouseUrl: undefined, paymentProviderUrl: 'http://127.0.0.1:1', mocksInProcess: { payments: true, warehouse: true } };
      const app = express().use(express.json()).use(adminRouter(ctx)).use(errorMiddleware);
      const none = await request(app).put('/admin/mocks/warehouse/stock/ABC').send({ quantity: 1 });
      expect(none.status).toBe(404);
      expect(none.body.error.message).toContain('WAREHOUSE_URL');
      const down = await request(app).get('/admin/mocks/payments/config');
      expect(down.status).toBe(503);
      expect(down.body.error.message).toContain('payment provider did not answer');
    });

    it('when the warehouse mock runs here, then GET /admin/mocks/warehouse says so without asking the warehouse', async () => {
      const res = await t.http.get('/admin/mocks/warehouse');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ url: warehouse.url });
    });
  });

  describe('demo controls outside a process that runs the mocks', () => {
    const MOCK_PATHS = [
      ['GET', '/admin/mocks/payments/config'],
      ['PUT', '/admin/mocks/payments/config'],
      ['GET', '/admin/mocks/warehouse'],
      ['GET', '/admin/mocks/warehouse/stock/DEMO-SKU-1'],
      ['PUT', '/admin/mocks/warehouse/stock/DEMO-SKU-1'],
    ] as const;

    async function appWith(mocksInProcess: { payments: boolean; warehouse: boolean }) {
      const app = buildApp({ ...t.ctx, mocksInProcess });
      const token = await t.tokenFor({ clientId: 'test-admin', role: 'admin', customerId: null });
      return (method: 'GET' | 'PUT', path: string) => {
        const req = method === 'GET' ? request(app).get(path) : request(app).put(path).send({ down: true, quantity: 7 });
        return req.set('Authorization', `Bearer ${token}`);
      };
    }

    afterEach(() => {
      Object.assign(t.payments.settings, { failureRate: 0, declineRate: 0, latencyMs: 0, down: false });
    });

    it('when no mock runs in this process, then every /admin/mocks/* path answers 404 like an unknown path, and nothing reaches the mocks', async () => {
      const call = await appWith({ payments: false, warehouse: false });
      const unknown = await call('GET', '/admin/no-such-path');
      expect(unknown.status).toBe(404);
      for (const [method, path] of MOCK_PATHS) {
        const res = await call(method, path);
        expect({ method, path, status: res.status, code: res.body.error?.code, message: res.body.error?.message })
          .toEqual({ method, path, status: 404, code: unknown.body.error.code, message: unknown.body.error.message.replace('/admin/no-such-path', path).replace('GET', method) });
      }
      expect(t.payments.settings.down).toBe(false);
      expect(warehouse.warehouse.stock.get('DEMO-SKU-1')?.quantity).not.toBe(7);
      expect((await call('GET', '/admin/overview')).status).toBe(200);
    });

    it('when only the payment mock runs in this process, then only its controls are mounted', async () => {
      const call = await appWith({ payments: true, warehouse: false });
      expect((await call('GET', '/admin/mocks/payments/config')).status).toBe(200);
      expect((await call('GET', '/admin/mocks/warehouse')).status).toBe(404);
      expect((await call('GET', '/admin/mocks/warehouse/stock/DEMO-SKU-1')).status).toBe(404);
    });
  });

  describe('configured URLs with credentials', () => {
    it('when the payment provider and warehouse URLs hold credentials, then no admin or health response contains them', async () => {
      const paymentPort = new URL(t.paymentServer.url).port;
      const warehousePort = new URL(warehouse.url).port;
      const ctx = {
        ...t.ctx,
        paymentProviderUrl: `http://pay-user:pay-s3cret@127.0.0.1:${paymentPort}`,
        warehouseUrl: `http://wh-user:wh-s3cret@127.0.0.1:${warehousePort}`,
        mocksInProcess: { payments: true, warehouse: true },
      };
      const app = buildApp(ctx);
      const token = await t.tokenFor({ clientId: 'test-admin', role: 'admin', customerId: null });
      const get = (path: string) => request(app).get(path).set('Authorization', `Bearer ${token}`);

      const config = await get('/admin/mocks/payments/config');
      expect(config.status).toBe(200);
      expect(config.body.url).toBe(`http://127.0.0.1:${paymentPort}`);
      const wh = await get('/admin/mocks/warehouse');
      expect(wh.body.url).toBe(`http://127.0.0.1:${warehousePort}`);
      const put = await request(app).put('/admin/mocks/payments/config').set('Authorization', `Bearer ${token}`).send({ latencyMs: 0 });
      expect(put.status).toBe(200);

      // A provider that does not answer: its URL is in the 503's details, with neither userinfo nor query string.
      const deadCtx = { ...ctx, paymentProviderUrl: 'http://dead-user:dead-s3cret@127.0.0.1:1/pay?api_key=key-s3cret' };
      const dead = await request(buildApp(deadCtx)).get('/admin/mocks/payments/config').set('Authorization', `Bearer ${token}`);
      expect(dead.status).toBe(503);
      expect(dead.body.error.details).toEqual({ upstream: 'http://127.0.0.1:1/pay' });

      const bodies = [config, wh, put, dead, await get('/admin/overview'), await get('/admin/stock'), await get('/health'), await get('/ready'), await get('/admin/mocks/warehouse/stock/DEMO-SKU-1')]
        .map((res) => res.text);
      for (const secret of ['pay-s3cret', 'pay-user', 'wh-s3cret', 'wh-user', 'dead-s3cret', 'key-s3cret']) {
        expect(bodies.filter((text) => text.includes(secret))).toEqual([]);
      }
    });
  });
});
