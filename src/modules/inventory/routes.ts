import { Router } from 'express';
import type { AppContext } from '../../context';
import { methodNotAllowed, validate } from '../../shared/validate';
import { listSyncsSchema, requestSyncBodySchema, syncIdSchema } from './schemas';
import { InventoryService } from './service';

export function inventoryRouter(ctx: AppContext): Router {
  const router = Router();
  const inventory = new InventoryService(ctx);

  // 202 either way: a new job, or the one already waiting (alreadyQueued: true).
  router.route('/inventory/sync').post(async (req, res) => {
    validate(requestSyncBodySchema, req.body ?? {});
    const queued = await inventory.requestSync({ requestId: String(req.id) });
    res.status(202).location(queued.runs).json(queued);
  }).all(methodNotAllowed);

  router.route('/inventory/syncs').get(async (req, res) => {
    const query = validate(listSyncsSchema, req.query, { convert: true });
    res.json(await inventory.list(query));
  }).all(methodNotAllowed);

  router.route('/inventory/syncs/:id').get(async (req, res) => {
    const id = validate(syncIdSchema.label('id'), req.params.id);
    res.json({ sync: await inventory.get(id) });
  }).all(methodNotAllowed);

  return router;
}
