import { Router } from 'express';
import type { AppContext } from '../../context';
import { methodNotAllowed, validate } from '../../shared/validate';
import { MockProxy } from './mocks';
import { paymentMockConfigSchema, stockQuerySchema, warehouseSkuSchema, warehouseStockSchema } from './schemas';
import { AdminService } from './service';

/**
 * JSON for the operations dashboard, under /admin (admin clients only: src/modules/auth/policy.ts).
 * - GET /admin/overview: queue depths and failed / dead-letter jobs (pg-boss), orders per minute by
 *   outcome for the last hour, orders in flight, the last inventory syncs with their shortfalls;
 * - GET /admin/stock?limit=: products with available stock, low first;
 * - GET|PUT /admin/mocks/payments/config, GET /admin/mocks/warehouse, GET|PUT
 *   /admin/mocks/warehouse/stock/:sku: demo controls, proxied to the mock payment provider and
 *   mock warehouse. Each is mounted only when that mock runs in this process (ctx.mocksInProcess):
 *   no deployment gets a door to reconfigure its real dependencies; elsewhere they are 404 like
 *   any unknown path, which is how the dashboard knows to hide them.
 */
export function adminRouter(ctx: AppContext): Router {
  const router = Router();
  const admin = new AdminService(ctx);

  router.route('/admin/overview').get(async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await admin.overview());
  }).all(methodNotAllowed);

  router.route('/admin/stock').get(async (req, res) => {
    const { limit } = validate(stockQuerySchema, req.query, { convert: true });
    res.set('Cache-Control', 'no-store').json(await admin.stock(limit));
  }).all(methodNotAllowed);

  if (ctx.mocksInProcess.payments) mountPaymentMock(router, ctx, new MockProxy('payment provider', ctx.paymentProviderUrl, 'PAYMENT_PROVIDER_URL'));
  if (ctx.mocksInProcess.warehouse) mountWarehouseMock(router, ctx, new MockProxy('warehouse', ctx.warehouseUrl, 'WAREHOUSE_URL'));

  return router;
}

function mountPaymentMock(router: Router, ctx: AppContext, payments: MockProxy): void {
  router
    .route('/admin/mocks/payments/config')
    .get(async (_req, res) => {
      res.json({ url: payments.url, config: await payments.request('GET', '/config') });
    })
    .put(async (req, res) => {
      const input = validate(paymentMockConfigSchema, req.body);
      const config = await payments.request('PUT', '/config', input);
      ctx.logger.info({ requestId: req.id, change: input }, 'mock payment provider reconfigured from the admin API');
      res.json({ url: payments.url, config });
    })
    .all(methodNotAllowed);
}

function mountWarehouseMock(router: Router, ctx: AppContext, warehouse: MockProxy): void {
  // Tells the dashboard the warehouse controls exist without asking the warehouse anything.
  router.route('/admin/mocks/warehouse').get((_req, res) => {
    res.json({ url: warehouse.url });
  }).all(methodNotAllowed);

  router
    .route('/admin/mocks/warehouse/stock/:sku')
    .get(async (req, res) => {
      const sku = validate(warehouseSkuSchema.label('sku'), req.params.sku);
      res.json(await warehouse.request('GET', `/stock/${encodeURIComponent(sku)}`));
    })
    .put(async (req, res) => {
      const sku = validate(warehouseSkuSchema.label('sku'), req.params.sku);
      const { quantity } = validate(warehouseStockSchema, req.body);
      const level = await warehouse.request('PUT', `/stock/${encodeURIComponent(sku)}`, { quantity });
      ctx.logger.info({ requestId: req.id, sku, quantity }, 'mock warehouse stock set from the admin API');
      res.json(level);
    })
    .all(methodNotAllowed);
}
