import { Router, type Request, type Response } from 'express';
import type { AppContext } from '../../context';
import { annotate } from '../../observability/traces';
import { AppError } from '../../shared/errors';
import { validate, methodNotAllowed } from '../../shared/validate';
import { orderRateLimit, principalOf } from '../auth';
import { streamOrderEvents } from '../events';
import { cancelOrderBodySchema, createOrderSchema, refundOrderBodySchema, idempotencyHeaderSchema, listOrdersSchema, orderIdSchema } from './schemas';
import { OrderService } from './service';

/** A customer client sees only its own orders; someone else's order is simply not found. */
function scopeOf(req: Request): string | undefined {
  const { role, customerId } = principalOf(req);
  return role === 'customer' ? customerId! : undefined;
}

/**
 * Puts the order's id on this request's log lines: the error middleware's (req.log) and
 * pino-http's completion line (it reads res.locals.orderId when the response finishes).
 */
function logWithOrder(req: Request, res: Response, orderId: string): void {
  res.locals.orderId = orderId;
  req.log = req.log.child({ orderId });
  // And on the request's span, so a trace shows which order it was about.
  annotate({ order_id: orderId });
}

export function ordersRouter(ctx: AppContext): Router {
  const router = Router();
  const rateLimit = orderRateLimit(ctx.config.auth.orderRateLimitPerMinute);
  const orders = new OrderService(ctx);

  const create = async (req: Request, res: Response) => {
    const header = req.get('Idempotency-Key');
    const idempotencyKey = header === undefined ? undefined : validate(idempotencyHeaderSchema, { 'Idempotency-Key': header })['Idempotency-Key'];
    const input = validate(createOrderSchema, req.body);
    const principal = principalOf(req);
    if (principal.role === 'customer' && input.customerId !== principal.customerId) {
      throw new AppError('FORBIDDEN', `This client may only create orders for customer ${principal.customerId}`);
    }
    const { order, replayed } = await orders.create(input, { idempotencyKey, requestId: String(req.id) });
    logWithOrder(req, res, order.id);
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.status(202).location(`/orders/${order.id}`).json({ order });
  };

  router.route('/orders/create').post(rateLimit, create).all(methodNotAllowed);
  router
    .route('/orders')
    .post(rateLimit, create)
    .get(async (req, res) => {
      const query = validate(listOrdersSchema, req.query, { convert: true });
      const { role, customerId } = principalOf(req);
      if (role === 'customer' && query.customerId && query.customerId !== customerId) {
        throw new AppError('FORBIDDEN', `This client may only list the orders of customer ${customerId}`);
      }
      res.json(await orders.list(role === 'customer' ? { ...query, customerId: customerId! } : query));
    })
    .all(methodNotAllowed);

  router.route('/orders/:id').get(async (req, res) => {
    const id = validate(orderIdSchema.label('id'), req.params.id);
    logWithOrder(req, res, id);
    res.json({ order: await orders.get(id, scopeOf(req)) });
  }).all(methodNotAllowed);

  router.route('/orders/:id/logs').get(async (req, res) => {
    const id = validate(orderIdSchema.label('id'), req.params.id);
    logWithOrder(req, res, id);
    res.json({ orderId: id, logs: await orders.logs(id, scopeOf(req)) });
  }).all(methodNotAllowed);

  // Server-Sent Events: the order now, then each change as it commits (events/streams.ts).
  router.route('/orders/:id/events').get(async (req, res) => {
    const id = validate(orderIdSchema.label('id'), req.params.id);
    logWithOrder(req, res, id);
    const customerId = scopeOf(req);
    await streamOrderEvents(ctx, req, res, id, () => orders.snapshot(id, customerId));
  }).all(methodNotAllowed);

  router.route('/orders/:id/cancel').post(async (req, res) => {
    const id = validate(orderIdSchema.label('id'), req.params.id);
    validate(cancelOrderBodySchema, req.body ?? {});
    logWithOrder(req, res, id);
    res.json({ order: await orders.cancel(id, { requestId: String(req.id), customerId: scopeOf(req) }) });
  }).all(methodNotAllowed);

  // Admin only (auth/policy.ts). 202 while the provider is asked; 200 once it is refunded (asking again changes nothing).
  router.route('/orders/:id/refund').post(async (req, res) => {
    const id = validate(orderIdSchema.label('id'), req.params.id);
    const { restock } = validate(refundOrderBodySchema, req.body ?? {});
    logWithOrder(req, res, id);
    const order = await orders.refund(id, { restock, requestId: String(req.id) });
    res.status(order.status === 'refunded' ? 200 : 202).json({ order });
  }).all(methodNotAllowed);

  return router;
}
