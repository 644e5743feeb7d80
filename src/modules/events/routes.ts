import { Router, type Request } from 'express';
import type { AppContext } from '../../context';
import { validate, methodNotAllowed } from '../../shared/validate';
import { principalOf } from '../auth';
import { WebhookService, type EndpointOwner } from './endpoints';
import { createEndpointSchema, emptyBodySchema, endpointIdSchema, listDeliveriesSchema, updateEndpointSchema } from './schemas';
import { streamAllEvents } from './streams';

/** An admin client manages every endpoint; a customer client registers and sees its own. */
function ownerOf(req: Request): EndpointOwner {
  const { role, customerId } = principalOf(req);
  return { customerId: role === 'customer' ? customerId! : null };
}

const idParam = (req: Request, name = 'id') => validate(endpointIdSchema.label(name), req.params[name]);

export function eventsRouter(ctx: AppContext): Router {
  const router = Router();
  const webhooks = new WebhookService(ctx);

  router
    .route('/webhooks')
    .post(async (req, res) => {
      const input = validate(createEndpointSchema, req.body);
      const endpoint = await webhooks.create(input, ownerOf(req));
      res.status(201).location(`/webhooks/${endpoint.id}`).json({ endpoint });
    })
    .get(async (req, res) => {
      res.json({ endpoints: await webhooks.list(ownerOf(req)) });
    })
    .all(methodNotAllowed);

  router
    .route('/webhooks/:id')
    .get(async (req, res) => {
      res.json({ endpoint: await webhooks.get(idParam(req), ownerOf(req)) });
    })
    .patch(async (req, res) => {
      const id = idParam(req);
      res.json({ endpoint: await webhooks.update(id, validate(updateEndpointSchema, req.body), ownerOf(req)) });
    })
    .delete(async (req, res) => {
      await webhooks.remove(idParam(req), ownerOf(req));
      res.status(204).end();
    })
    .all(methodNotAllowed);

  router.route('/webhooks/:id/test').post(async (req, res) => {
    const id = idParam(req);
    validate(emptyBodySchema, req.body ?? {});
    res.status(202).json({ delivery: await webhooks.ping(id, ownerOf(req)) });
  }).all(methodNotAllowed);

  router.route('/webhooks/:id/deliveries').get(async (req, res) => {
    const id = idParam(req);
    const query = validate(listDeliveriesSchema, req.query, { convert: true });
    res.json(await webhooks.deliveries(id, query, ownerOf(req)));
  }).all(methodNotAllowed);

  router.route('/webhooks/:id/deliveries/:deliveryId/retry').post(async (req, res) => {
    const id = idParam(req);
    const deliveryId = idParam(req, 'deliveryId');
    validate(emptyBodySchema, req.body ?? {});
    res.status(202).json({ delivery: await webhooks.retry(id, deliveryId, ownerOf(req)) });
  }).all(methodNotAllowed);

  // Admin only (auth/policy.ts): every event of every customer.
  router.route('/events').get((req, res) => streamAllEvents(ctx, req, res)).all(methodNotAllowed);

  return router;
}
